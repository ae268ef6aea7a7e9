// The public Ledger: JSON docs in, encrypted commits out. Writes apply serially in call
// order (a replica's own writes are causally ordered) and never wait for any remote.
// This class checks arguments and the closed state, and hands each call to the part that
// does that one job.
import type { CryptoProvider } from "../blocks/crypto.js";
import type { Signer, SigningProvider } from "../trust/signing.js";
import { encodeLedgerKey } from "../blocks/ledger-key.js";
import type { Compression } from "../blocks/node-compression.js";
import type { LedgerState } from "../crdt/ledger-state.js";
import type { Gateway, LocalStorage } from "../gateways/gateway.js";
import type { Registry } from "../gateways/registry.js";
import type { Connection } from "../sync/connection.js";
import type { TabLink } from "../sync/tab-link.js";
import {
  ClosedError,
  InvalidArgumentError,
  ReadOnlyError,
} from "../util/errors.js";
import type { OnProgress } from "../util/progress.js";
import { SerialQueue } from "../util/serial-queue.js";
import type { BlockSource } from "./block-source.js";
import type { Checkpoint } from "./checkpoint.js";
import { Checkpointer } from "./checkpointer.js";
import { CommitCids } from "./commit-cids.js";
import type { Doc, DocFields, DocInput } from "./doc.js";
import { checkDocBody, checkId } from "./doc.js";
import { DocReader } from "./doc-reader.js";
import { docHistory } from "./doc-history.js";
import type { DocVersion } from "./doc-history.js";
import { GroupCommit } from "./group-commit.js";
import { IndexRegistry } from "./index-registry.js";
import { openLedgerAt } from "./ledger-at.js";
import type { LedgerAt, PastParts } from "./ledger-at.js";
import { LedgerEvents } from "./ledger-events.js";
import { LedgerSnapshots } from "./ledger-snapshots.js";
import { registerInternals } from "./ledger-internals.js";
import type {
  ChangesInfo,
  ChangesListener,
  ErrorListener,
} from "./ledger-events.js";
import { startLiveQuery } from "./live-query.js";
import { Merger } from "./merger.js";
import type { LedgerMembers, MemberList } from "./ledger-members.js";
import type { KeyRing } from "./key-ring.js";
import { inviteMember, removeMember } from "./ledger-trust.js";
import type { LedgerTrustParts } from "./ledger-trust.js";
import { encodeWriter } from "../trust/signing.js";
import { SchemaGate } from "./schema-gate.js";
import type { DocSchema } from "./schema-gate.js";
import type { MapFn, QueryOptions, QueryRow } from "./query.js";
import { allDocsRows, changeRows } from "./reads.js";
import type { AllDocsOptions, ChangeRow, ChangesResult } from "./reads.js";
import { StateLoader } from "./state-loader.js";
import { followStorage } from "./storage-follower.js";
import { LedgerSync } from "./sync-host.js";
import type { ConnectOptions } from "./sync-host.js";
import { OutboxStore } from "../sync/outbox.js";
import { prepareDoc } from "./write-commit.js";
import type { PreparedDoc } from "./write-commit.js";

export type { AllDocsOptions, ChangeRow, ChangesResult };
export type { MapFn, QueryOptions, QueryRow };
export type { ConnectOptions };
export type { DocSchema };
export type { DocVersion, LedgerAt };
export type { MemberList };
export type { ChangesInfo, ChangesListener, ErrorListener };

/** What put() and del() resolve with: the doc's id and the ledger's heads after the write. */
export interface WriteResult {
  id: string;
  clock: string[];
}

/** What bulk() resolves with: the ids written, in order, and the heads after the write. */
export interface BulkResult {
  ids: string[];
  clock: string[];
}

export interface LedgerParts {
  name: string;
  storage: Gateway & { local: LocalStorage };
  /** The gateway registry the ledger was opened with; connect() resolves through it. */
  registry: Registry;
  /** Shares a remote among the tabs of an origin (Platform.tabLink), where they share storage. */
  tabLink?: ((remoteId: string) => TabLink | undefined) | undefined;
  state: LedgerState;
  blocks: BlockSource;
  crypto: CryptoProvider;
  key: Uint8Array;
  /** The device's writer, signing every commit. */
  writer: Signer;
  /** Checks the signatures of commits from elsewhere. */
  signing: SigningProvider;
  /** Who may write: the membership rule applied to every commit. */
  members: LedgerMembers;
  /** The content keys: the ledger key and those rotations gave this replica. */
  ring: KeyRing;
  compression: Compression;
  newId: () => string;
  /** Set when the ledger opened from a checkpoint whose clock and versions are not loaded yet. */
  lazy: Checkpoint | undefined;
  /** Subscribes to the page being hidden (Platform.onHidden): a checkpoint is written then. */
  onHidden?: ((listener: () => void) => () => void) | undefined;
  /** At least this many written ops (doc writes) between automatic checkpoints. */
  checkpointEvery: number;
  /** Ops replayed on open, since the last checkpoint. */
  uncheckpointed: number;
  /** The docs' schema, checked on writes and reads (see schema-gate.ts). */
  schema?: DocSchema | undefined;
  /** Local writes are refused with a ReadOnlyError. */
  readOnly?: boolean;
}

/** Commits after which a checkpoint is written even for a small ledger. */
export const AUTO_CHECKPOINT_COMMITS = 20_000;

/**
 * A named set of JSON docs with a full history, stored locally and replicated to the
 * remotes it is connected to. `T` is the type of its docs (without `_id`, which every
 * stored doc has): `openLedger<Trade>("trades")`, or inferred from a `schema`.
 */
export class Ledger<T extends object = DocFields> {
  readonly name: string;
  readonly #p: LedgerParts;
  readonly #queue = new SerialQueue();
  readonly #events = new LedgerEvents();
  readonly #loader: StateLoader;
  readonly #reader: DocReader;
  readonly #indexes: IndexRegistry;
  readonly #checkpointer: Checkpointer;
  readonly #writes: GroupCommit;
  readonly #sync: LedgerSync;
  readonly #gate: SchemaGate | undefined;
  readonly #trust: LedgerTrustParts;
  /** What history() and at() read: storage, the clock, the key. */
  readonly #past: PastParts;
  /** Stops merging what other handles on the storage write (storage-follower.ts). */
  readonly #unfollow: () => void;
  #closed = false;

  /** @internal Ledgers are made by openLedger(). */
  constructor(parts: LedgerParts) {
    this.#p = parts;
    this.name = parts.name;
    const { name, storage, state, blocks, crypto, key } = parts;
    const queue = this.#queue;
    const events = this.#events;
    const isClosed = () => this.#closed;
    const onError = (error: unknown) => events.emitError(error);
    const loader = new StateLoader(state, parts.lazy);
    const cids = new CommitCids(state.clock);
    const reader = new DocReader(loader, blocks);
    const outboxes = new OutboxStore(storage.local, name);
    const indexes = new IndexRegistry({
      loader,
      blocks,
      reader,
      crypto,
      onError,
    });
    // What writing (and reading back) a sealed checkpoint needs: checkpoints and snapshots.
    const sealing = {
      ledger: name,
      local: storage.local,
      loader,
      blocks,
      crypto,
      key,
      compression: parts.compression,
    };
    const checkpointer = new Checkpointer({
      ...sealing,
      indexes,
      outboxes,
      cids,
      queue,
      isClosed,
      onError,
      every: parts.checkpointEvery,
      uncheckpointed: 0,
      onAutoCheckpoint: () => this.#sync.publishSnapshots(),
    });
    const common = { ledger: name, storage, loader, blocks, cids, queue };
    const merger = new Merger({
      ...common,
      events,
      reader,
      checkpointer,
      signing: parts.signing,
      members: parts.members,
    });
    this.#writes = new GroupCommit({
      ...common,
      crypto,
      signer: parts.writer,
      gate: parts.members,
      events,
      reader,
      checkpointer,
      isClosed,
    });
    const snapshots = new LedgerSnapshots({
      ...sealing,
      storage,
      events,
      queue,
      writer: parts.writer,
      signing: parts.signing,
    });
    registerInternals(this, { storage, snapshots, isClosed });
    const unhide = parts.onHidden?.(() => {
      checkpointer.flush().catch((error: unknown) => {
        if (!isClosed()) onError(error);
      });
    });
    const unfollow = followStorage({
      ledger: name,
      storage,
      merge: (heads) =>
        isClosed()
          ? Promise.resolve()
          : merger.merge(heads, undefined, storage, true),
      onError,
    });
    this.#unfollow = () => {
      unfollow();
      unhide?.();
    };
    this.#sync = new LedgerSync({
      name,
      storage,
      registry: parts.registry,
      tabLink: parts.tabLink,
      snapshots,
      loader,
      crypto,
      cids,
      events,
      outboxes,
      isClosed,
      merge: (commits, incoming, origin) =>
        merger.merge(commits, incoming, origin),
      catchUp: async () => {
        if (!isClosed())
          await merger.merge(
            await storage.getHeads(name),
            undefined,
            storage,
            true,
          );
      },
    });
    this.#loader = loader;
    this.#reader = reader;
    this.#trust = {
      ledger: name,
      members: parts.members,
      ring: parts.ring,
      writes: this.#writes,
      loader,
      crypto,
    };
    this.#past = {
      isVoid: (cid) => parts.members.isVoid(cid),
      ledger: name,
      storage,
      loader,
      crypto,
      key,
      keys: (id) => parts.ring.keyFor(id),
      isClosed,
      onError,
    };
    this.#indexes = indexes;
    this.#checkpointer = checkpointer;
    // Ops replayed on open count towards the next checkpoint.
    checkpointer.added(parts.uncheckpointed);
    if (parts.schema) {
      const gate = new SchemaGate(parts.schema, onError);
      events.onRows((rows) => gate.watch(rows));
      this.#gate = gate;
    }
  }

  /** The current heads: commit CIDs. */
  get clock(): string[] {
    return this.#loader.heads;
  }

  /** This device's writer: its public key as base64url (what `kiln whoami` prints). */
  get writer(): string {
    return encodeWriter(this.#p.writer.publicKey);
  }

  /**
   * The members of a membered ledger at its current heads (docs/security.md, "Members");
   * undefined for an open ledger, which every key holder writes.
   */
  members(): MemberList | undefined {
    if (this.#closed) throw new ClosedError(`ledger ${this.name}`);
    return this.#p.members.membersAt(this.#loader.heads);
  }

  /**
   * Admits `writer` (a public key, as `kiln whoami` prints it) to this membered ledger as a
   * `writer` or an `admin`, and returns the invitation to hand over out of band: the
   * ledger's keys sealed for that writer (X25519), never a raw key. Admins only.
   */
  invite(
    writer: string,
    options: { role: "writer" | "admin" } = { role: "writer" },
  ): Promise<string> {
    return this.#guard(() => inviteMember(this.#trust, writer, options.role));
  }

  /**
   * Removes `writer` from this membered ledger and rotates the content key: what is
   * written after (every commit descending from the removal) is sealed under a new key
   * given to the remaining members only. Admins only (or the writer itself).
   */
  remove(writer: string): Promise<WriteResult> {
    return this.#guard(async () => ({
      id: writer,
      clock: await removeMember(this.#trust, writer),
    }));
  }

  /** The ledger key as base64url, to share with another replica. */
  get key(): string {
    return encodeLedgerKey(this.#p.key);
  }

  /**
   * Writes a doc (a new version of it when its `_id` exists) and resolves once the commit
   * holding it is stored locally. A doc without `_id` gets a generated one. With a schema,
   * a doc failing it is refused with a `SchemaError` and nothing is written.
   */
  put(doc: DocInput<T>): Promise<WriteResult> {
    return this.#guard(async () => {
      this.#writable("put");
      const { ids, clock } = await this.#write([doc]);
      return { id: ids[0]!, clock };
    });
  }

  /** Writes several docs as one commit: all of them or, on any bad doc, none. */
  bulk(docs: readonly DocInput<T>[]): Promise<BulkResult> {
    return this.#guard(() => {
      this.#writable("bulk");
      if (!Array.isArray(docs))
        throw new InvalidArgumentError("bulk: expected an array of docs");
      return this.#write(docs);
    });
  }

  /** Deletes a doc: a tombstone, merged like any write. */
  del(id: string): Promise<WriteResult> {
    return this.#guard(async () => {
      this.#writable("del");
      checkId(id);
      const deletion = { id, body: null, block: undefined };
      // A deletion passes any schema, but waits behind writes still being checked.
      const clock = await (this.#gate
        ? this.#gate.admit([], () => this.#writes.write([deletion]))
        : this.#writes.write([deletion]));
      return { id, clock };
    });
  }

  /**
   * Checks, encodes and queues docs as one write. The write is queued synchronously when no
   * schema check is pending, so call order stays write order; with a schema, the schema's
   * outputs are written, still in call order when it checks asynchronously.
   */
  #write(docs: readonly DocInput<T>[]): Promise<BulkResult> {
    const { newId, crypto } = this.#p;
    const write = async (prepared: PreparedDoc[]): Promise<BulkResult> => {
      if (prepared.length === 0) return { ids: [], clock: this.clock };
      const clock = await this.#writes.write(prepared);
      return { ids: prepared.map((p) => p.id), clock };
    };
    const gate = this.#gate;
    if (!gate)
      return write(docs.map((d) => prepareDoc(d as DocInput, newId, crypto)));
    // Ids are given before the check: the schema sees each doc as reads will return it.
    const withIds = docs.map((d) => {
      const given = (d as { _id?: unknown } | null | undefined)?._id;
      const id = given === undefined ? newId() : checkId(given);
      checkDocBody(d, id); // only JSON reaches the schema
      return { ...(d as DocInput), _id: id };
    });
    return gate.admit(withIds, (checked) =>
      write(checked.map((d) => prepareDoc(d, newId, crypto))),
    );
  }

  /**
   * The current doc `id`, or a `NotFoundError`. With `conflicts`, the losing versions of
   * concurrent writes are attached as `_conflicts`. With a schema, a stored doc failing it
   * (merged from another replica) throws a `SchemaError`.
   */
  get(id: string): Promise<Doc<T>>;
  get(
    id: string,
    options: { conflicts: true },
  ): Promise<Doc<T> & { _conflicts: Doc<T>[] }>;
  get(
    id: string,
    options?: { conflicts?: boolean },
  ): Promise<Doc<T> & { _conflicts?: Doc<T>[] }>;
  get(
    id: string,
    options: { conflicts?: boolean } = {},
  ): Promise<Doc<T> & { _conflicts?: Doc<T>[] }> {
    return this.#guard(async () => {
      checkId(id);
      const conflicts = options.conflicts === true;
      const doc = await this.#reader.get(id, conflicts);
      const gate = this.#gate;
      if (!gate) return doc as Doc<T>;
      if (!conflicts) return (await gate.read(doc)) as Doc<T>;
      const { _conflicts: losers, ...winner } = doc;
      return {
        ...(await gate.read(winner)),
        _conflicts: await gate.passing(losers as Doc[]),
      } as Doc<T> & { _conflicts: Doc<T>[] };
    });
  }

  /**
   * Whether `id` has a live doc (false when it was never written or is deleted). Reads no
   * doc and applies no schema.
   */
  has(id: string): Promise<boolean> {
    return this.#guard(() => {
      checkId(id);
      return this.#reader.has(id);
    });
  }

  /** Docs in id order (or a range of ids), with the clock they were read at. */
  allDocs(
    options: AllDocsOptions = {},
  ): Promise<{ rows: { id: string; doc: Doc<T> }[]; clock: string[] }> {
    return this.#guard(async () => {
      const rows = await allDocsRows(this.#loader.state, options, (id, cid) =>
        this.#reader.at(id, cid),
      );
      return {
        rows: (this.#gate ? await this.#gate.filter(rows) : rows) as {
          id: string;
          doc: Doc<T>;
        }[],
        clock: this.clock,
      };
    });
  }

  /**
   * Every doc changed since the clock `since` (all docs when it is empty), once each, with
   * the clock to pass next time. A `since` naming commits this ledger does not hold (it let
   * that history go, or started after it from a snapshot) gives every current doc and
   * `reset: true` (see ChangesResult).
   */
  changes(
    since: readonly string[] = [],
    options: { limit?: number } = {},
  ): Promise<ChangesResult<T>> {
    return this.#guard(async () => {
      if (!Array.isArray(since))
        throw new InvalidArgumentError(
          "changes: since must be a clock (an array of commit cids)",
        );
      await this.#loader.ready();
      const feed = await changeRows(
        this.#loader.state,
        since,
        options.limit,
        (id, cid) => this.#reader.at(id, cid),
      );
      if (this.#gate) feed.rows = await this.#gate.filterChanges(feed.rows);
      return feed as ChangesResult<T>;
    });
  }

  /**
   * Rows of an index — a field (dotted path) or a map function — sorted by CouchDB
   * collation of the key, then doc id. The index catches up with every write first. With a
   * schema, rows of docs failing it are left out.
   */
  query(
    index: string | MapFn<T>,
    options: QueryOptions = {},
  ): Promise<{ rows: QueryRow<T>[] }> {
    const gate = this.#gate;
    const map = index as string | MapFn;
    if (!gate)
      return this.#guard(() =>
        this.#queue.run(() => this.#indexes.query(map, options)),
      ) as Promise<{ rows: QueryRow<T>[] }>;
    // The docs are needed to check them, even when the caller does not want them.
    const withDocs = { ...options, includeDocs: true };
    return this.#guard(async () => {
      const { rows } = await this.#queue.run(() =>
        this.#indexes.query(map, withDocs),
      );
      const passed = await gate.filter(rows);
      if (options.includeDocs === false)
        for (const row of passed) delete row.doc;
      return { rows: passed as QueryRow<T>[] };
    });
  }

  /**
   * Delivers the query's result at once, then again whenever it changes — after local
   * writes and after merged remote writes alike. A query that fails goes to `onError`, or
   * to the `error` event when there is none.
   */
  live(
    index: string | MapFn<T>,
    options: QueryOptions,
    onResult: (result: { rows: QueryRow<T>[] }) => void,
    onError?: (error: unknown) => void,
  ): {
    /** Ends the live query: no result is delivered after it. */
    stop(): void;
  } {
    return startLiveQuery({
      query: () => this.query(index, options) as Promise<{ rows: QueryRow[] }>,
      subscribe: (listener) => this.#events.onRows(listener),
      onResult: onResult as (result: { rows: QueryRow[] }) => void,
      onError: onError ?? ((error) => this.#events.emitError(error)),
    });
  }

  /**
   * Every version of doc `id` this replica's history holds, newest first: each with the
   * commit that wrote it, its writer and height, and for a put the whole doc and the fields
   * it changed. Finds them in the in-memory clock and opens only the commits that wrote the
   * doc. A version whose commit compaction let go is listed as `dropped`.
   */
  history(id: string): Promise<DocVersion<T>[]> {
    return this.#guard(() => docHistory<T>(this.#past, checkId(id)));
  }

  /**
   * A read-only view of the ledger at a past `clock` (commit CIDs, as `clock` and every write
   * result give them): get, has, allDocs, changes and query as they were then; writes throw
   * `ReadOnlyError`. Reads every commit that clock covers; a `HistoryGoneError` names one
   * this replica no longer holds (compaction let it go).
   */
  at(clock: readonly string[]): Promise<LedgerAt<T>> {
    return this.#guard(() => openLedgerAt<T>(this.#past, clock));
  }

  /**
   * Replicates this ledger to the remote `url` names, both ways, until the connection or
   * the ledger closes. Several URLs name one SyncServer reached through several processes:
   * the connection uses one and moves to the next when it fails. Returns at once: the network is never waited for, and network
   * failures show on `status` and the `error` event, never as a throw. Throws only for a URL
   * it cannot use.
   */
  connect(
    url: string | readonly string[],
    options: ConnectOptions = {},
  ): Connection {
    if (this.#closed) throw new ClosedError(`ledger ${this.name}`);
    return this.#sync.connect(url, options);
  }

  /** The open connections, in the order they were made. */
  get connections(): Connection[] {
    return this.#sync.connections;
  }

  /**
   * Calls `listener` with the changed rows after every local write and every merge. With a
   * schema, rows of docs failing it are left out (deletions always come through).
   */
  subscribe(listener: ChangesListener<T>): () => void {
    const gate = this.#gate;
    const all = listener as ChangesListener;
    return this.#events.onRows(
      gate ? gate.listener(all, (e) => this.#events.emitError(e)) : all,
    );
  }

  /** Listens for background failures (merges, map functions, checkpoints, schema reports); returns the unsubscribe. */
  on(event: "error", listener: ErrorListener): () => void {
    if (event !== "error")
      throw new InvalidArgumentError(`on: unknown event ${String(event)}`);
    return this.#events.onError(listener);
  }

  /**
   * Writes a checkpoint of the merged state and drops every commit it makes redundant,
   * keeping the head commits.
   */
  compact(options: { onProgress?: OnProgress } = {}): Promise<void> {
    return this.#guard(() =>
      this.#queue.run(async () => {
        // Compaction drops commits the membership index is rebuilt from: save it first.
        await this.#p.members.save();
        await this.#checkpointer.compact(options.onProgress);
      }),
    );
  }

  /** Bytes the ledger occupies in its local storage (commits, heads, checkpoint), as the storage counts them. */
  storedBytes(): Promise<number> {
    return this.#guard(() => this.#p.storage.local.sizeOf(this.name));
  }

  /** Closes the connections, finishes queued writes and writes a checkpoint; the ledger is not used after. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#unfollow();
    await this.#sync.closeAll();
    await this.#queue.idle();
    this.#closed = true;
    try {
      await this.#p.members.save();
      await this.#checkpointer.onClose();
    } finally {
      await this.#p.storage.close();
    }
  }

  /** Closes the ledger and deletes everything it stored locally, key included. */
  async destroy(): Promise<void> {
    this.#unfollow();
    await this.#sync.closeAll();
    await this.#queue.idle();
    const wasClosed = this.#closed;
    this.#closed = true;
    if (wasClosed) throw new ClosedError(`ledger ${this.name}`);
    await this.#p.storage.local.destroy(this.name);
    await this.#p.storage.close();
  }

  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new ClosedError(`ledger ${this.name}`);
    return fn();
  }

  #writable(operation: string): void {
    if (this.#p.readOnly) throw new ReadOnlyError(this.name, operation);
  }
}
