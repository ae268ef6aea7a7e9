// The public Ledger: JSON docs in, encrypted commits out. Writes apply serially in call
// order (a replica's own writes are causally ordered) and never wait for any remote.
import { CID } from "multiformats/cid";
import { cidString } from "../blocks/cid.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import { encodeLedgerKey } from "../blocks/ledger-key.js";
import type { LedgerState } from "../crdt/ledger-state.js";
import type { Gateway, LocalStorage } from "../gateways/gateway.js";
import {
  ClosedError,
  CorruptError,
  InvalidArgumentError,
  NotFoundError,
} from "../util/errors.js";
import { SerialQueue } from "../util/serial-queue.js";
import { createDeferred } from "../util/deferred.js";
import type { Deferred } from "../util/deferred.js";
import type { BlockSource, DocBody } from "./block-source.js";
import { encodeCheckpoint } from "./checkpoint-writer.js";
import type { Checkpoint } from "./checkpoint.js";
import type { Compression } from "../blocks/node-compression.js";
import type { Doc, DocInput } from "./doc.js";
import { checkId } from "./doc.js";
import { allDocsRows, changeRows } from "./reads.js";
import { readNewEvents } from "./commit-reader.js";
import { toBase64url, utf8 } from "../util/bytes.js";
import { Index, fieldMap } from "./query.js";
import type { IndexSource, MapFn, QueryOptions, QueryRow } from "./query.js";
import { prepareDoc, sealWrite } from "./write-commit.js";
import type { PreparedDoc } from "./write-commit.js";
import type { AllDocsOptions, ChangeRow } from "./reads.js";
import { Connection } from "../sync/connection.js";
import type { HostChange, SyncHost } from "../sync/host.js";
import type { WireCommit } from "../sync/protocol/index.js";
import { resolveRemotes } from "../sync/resolve-remote.js";
import type { ConnectOptions } from "../sync/resolve-remote.js";
import { SyncStateStore } from "./sync-states.js";
import type { OpenedCommit } from "../blocks/commit.js";
import { cidKey } from "../blocks/cid.js";

export type { AllDocsOptions, ChangeRow };
export type { MapFn, QueryOptions, QueryRow };
export type { ConnectOptions };

export interface WriteResult {
  id: string;
  clock: string[];
}

export interface BulkResult {
  ids: string[];
  clock: string[];
}

export type ChangesListener = (rows: ChangeRow[]) => void;
export type ErrorListener = (error: unknown) => void;

export interface LedgerParts {
  name: string;
  storage: Gateway & { local: LocalStorage };
  state: LedgerState;
  blocks: BlockSource;
  crypto: CryptoProvider;
  key: Uint8Array;
  compression: Compression;
  newId: () => string;
  /** Set when the ledger opened from a checkpoint whose clock and versions are not loaded yet. */
  lazy: Checkpoint | undefined;
  /** At least this many written ops (doc writes) between automatic checkpoints. */
  checkpointEvery: number;
  /** Ops written or replayed since the last checkpoint. */
  uncheckpointed: number;
}

/** Commits after which a checkpoint is written even for a small ledger. */
export const AUTO_CHECKPOINT_COMMITS = 20_000;

/** Most docs one group commit takes; the rest wait for the next. */
const MAX_GROUP_DOCS = 10_000;

export class Ledger {
  readonly name: string;
  readonly #p: LedgerParts;
  readonly #queue = new SerialQueue();
  readonly #listeners = new Set<ChangesListener>();
  readonly #errorListeners = new Set<ErrorListener>();
  #closed = false;
  /** By name: `field:<path>` or `map:<sha-256 of the function's source>`. */
  readonly #indexes = new Map<string, Index>();
  readonly #pending: { docs: PreparedDoc[]; done: Deferred<string[]> }[] = [];
  #commitQueued = false;
  readonly #headCids = new Map<string, CID>();
  #uncheckpointed: number;
  #lazy: Checkpoint | undefined;
  #checkpointQueued = false;
  #loading: Promise<void> | undefined;
  readonly #connections = new Set<Connection>();
  readonly #changeListeners = new Set<(change: HostChange) => void>();
  readonly #syncStates: SyncStateStore;
  #syncHost: SyncHost | undefined;

  constructor(parts: LedgerParts) {
    this.#p = parts;
    this.name = parts.name;
    this.#uncheckpointed = parts.uncheckpointed;
    this.#lazy = parts.lazy;
    this.#syncStates = new SyncStateStore(parts.storage.local, parts.name);
  }

  /** The current heads: commit CIDs. */
  get clock(): string[] {
    if (this.#lazy) return this.#lazy.heads.map((h) => h.cid);
    return [...this.#p.state.clock.heads];
  }

  /**
   * Loads the clock and version lists of the checkpoint the ledger opened from. Reads by id
   * do without them (the checkpoint's tree answers), so a reopen costs one small decode and
   * the first write, merge or feed pays for the rest.
   */
  async #full(): Promise<void> {
    const lazy = this.#lazy;
    if (!lazy) return;
    this.#loading ??= (async () => {
      const { state } = this.#p;
      const { events, versions } = await lazy.loadState(
        state.tree.entries(lazy.root),
      );
      state.restore(events, versions, lazy.root);
      this.#lazy = undefined;
    })();
    await this.#loading;
  }

  /** The ledger key as base64url, to share with another replica. */
  get key(): string {
    return encodeLedgerKey(this.#p.key);
  }

  put(doc: DocInput): Promise<WriteResult> {
    return this.#guard(async () => {
      const prepared = prepareDoc(doc, this.#p.newId, this.#p.crypto);
      const clock = await this.#write([prepared]);
      return { id: prepared.id, clock };
    });
  }

  bulk(docs: readonly DocInput[]): Promise<BulkResult> {
    return this.#guard(async () => {
      if (!Array.isArray(docs))
        throw new InvalidArgumentError("bulk: expected an array of docs");
      const prepared = (docs as readonly DocInput[]).map((d) =>
        prepareDoc(d, this.#p.newId, this.#p.crypto),
      );
      if (prepared.length === 0) return { ids: [], clock: this.clock };
      const clock = await this.#write(prepared);
      return { ids: prepared.map((p) => p.id), clock };
    });
  }

  del(id: string): Promise<WriteResult> {
    return this.#guard(async () => {
      checkId(id);
      const clock = await this.#write([{ id, body: null, block: undefined }]);
      return { id, clock };
    });
  }

  get(id: string, options: { conflicts?: boolean } = {}): Promise<Doc> {
    return this.#guard(async () => {
      checkId(id);
      if (!options.conflicts) return this.#currentDoc(id);
      await this.#full();
      const { state, blocks } = this.#p;
      const versions = state.versions.get(id);
      const winner = versions?.[0];
      if (!winner?.doc) throw new NotFoundError(id);
      const losers: Doc[] = [];
      for (const v of versions!.slice(1))
        if (v.doc) losers.push({ _id: id, ...(await blocks.getDoc(id, v)) });
      return {
        _id: id,
        ...(await blocks.getDoc(id, winner)),
        _conflicts: losers,
      };
    });
  }

  allDocs(
    options: AllDocsOptions = {},
  ): Promise<{ rows: { id: string; doc: Doc }[]; clock: string[] }> {
    return this.#guard(async () => ({
      rows: await allDocsRows(this.#p.state, options, (id, cid) =>
        this.#docAt(id, cid),
      ),
      clock: this.clock,
    }));
  }

  changes(
    since: readonly string[] = [],
    options: { limit?: number } = {},
  ): Promise<{ rows: ChangeRow[]; clock: string[] }> {
    return this.#guard(async () => {
      if (!Array.isArray(since))
        throw new InvalidArgumentError(
          "changes: since must be a clock (an array of commit cids)",
        );
      await this.#full();
      return changeRows(this.#p.state, since, options.limit, (id, cid) =>
        this.#docAt(id, cid),
      );
    });
  }

  /**
   * Rows of an index — a field (dotted path) or a map function — sorted by CouchDB
   * collation of the key, then doc id. The index catches up with every write first.
   */
  query(
    index: string | MapFn,
    options: QueryOptions = {},
  ): Promise<{ rows: QueryRow[] }> {
    // In the write queue: the index catch-up, the walk and the docs all see one state, so a
    // row's doc is the version its key came from, and no write lands in between.
    return this.#guard(() =>
      this.#queue.run(async () => {
        const rows: QueryRow[] = await this.#indexFor(index).query(options);
        if (options.includeDocs ?? true)
          for (const row of rows) {
            // Most docs are cached: take them without a promise per row.
            const winner = this.#lazy
              ? undefined
              : this.#p.state.winner(row.id);
            const body = winner && this.#p.blocks.cachedBody(winner);
            row.doc = body
              ? { _id: row.id, ...body }
              : await this.#currentDoc(row.id);
          }
        return { rows };
      }),
    );
  }

  /**
   * Delivers the query's result at once, then again whenever it changes — after local
   * writes and after merged remote writes alike.
   */
  live(
    index: string | MapFn,
    options: QueryOptions,
    onResult: (result: { rows: QueryRow[] }) => void,
  ): { stop(): void } {
    let stopped = false;
    let running = false;
    let again = false;
    let last: string | undefined;
    const run = async (): Promise<void> => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          const result = await this.query(index, options);
          const fingerprint = JSON.stringify(result.rows);
          if (!stopped && fingerprint !== last) {
            last = fingerprint;
            onResult(result);
          }
        } while (again && !stopped);
      } catch (error) {
        if (!stopped && !(error instanceof ClosedError)) this.#emitError(error);
      } finally {
        running = false;
      }
    };
    const unsubscribe = this.subscribe(() => void run());
    void run();
    return {
      stop: () => {
        stopped = true;
        unsubscribe();
      },
    };
  }

  /**
   * The index of a field, or of a map function. A map function is known by its source text,
   * as CouchDB and PouchDB views are: it must depend only on the doc it is given (no captured
   * variables), and two functions with the same text share one index. That is what lets a
   * map index be saved with the checkpoint and resumed by another process.
   */
  #indexFor(index: string | MapFn): Index {
    let name: string;
    let map: MapFn;
    if (typeof index === "string") {
      if (index.length === 0)
        throw new InvalidArgumentError("query: the field name is empty");
      name = `field:${index}`;
      map = fieldMap(index);
    } else if (typeof index === "function") {
      name = `map:${toBase64url(this.#p.crypto.sha256(utf8(index.toString())))}`;
      map = index;
    } else
      throw new InvalidArgumentError(
        "query: index must be a field name or a map function",
      );
    const known = this.#indexes.get(name);
    if (known) return known;
    const source: IndexSource = {
      changes: async (since) => {
        // Unguarded: an index also catches up while close() writes the last checkpoint.
        await this.#full();
        return changeRows(this.#p.state, since, undefined, (id, cid) =>
          this.#docAt(id, cid),
        );
      },
      clock: () => this.clock,
      crypto: this.#p.crypto,
      onError: (error) => this.#emitError(error),
      savedNode: (cid, isValue) => this.#p.blocks.checkpointNode(cid, isValue),
    };
    const saved = this.#p.blocks.savedIndexes().find((i) => i.name === name);
    const created = new Index(name, map, source, saved);
    this.#indexes.set(name, created);
    return created;
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
    const urls = typeof url === "string" ? [url] : url;
    const target = resolveRemotes(urls, this.name, options, {
      isKnown: (cid) => this.#p.state.clock.has(cid),
      sha256: (bytes) => this.#p.crypto.sha256(bytes),
    });
    const connection = new Connection(this.#host(), target, target.opener, {
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.pollWaitMs ? { pollWaitMs: options.pollWaitMs } : {}),
    });
    this.#connections.add(connection);
    connection.on("status", (status) => {
      if (status.kind === "closed") this.#connections.delete(connection);
    });
    return connection;
  }

  /** The open connections, in the order they were made. */
  get connections(): Connection[] {
    return [...this.#connections];
  }

  /** What the sync engine sees of this ledger. */
  #host(): SyncHost {
    this.#syncHost ??= {
      name: this.name,
      ready: () => this.#full(),
      heads: () => this.#p.state.clock.heads,
      has: (cid) => this.#p.state.clock.has(cid),
      since: (boundary) => Promise.resolve(this.#since(boundary)),
      readCommit: async (cid) => {
        const bytes = await this.#p.storage.getCommit(this.name, cid);
        if (!bytes)
          throw new CorruptError(
            `ledger ${this.name}`,
            `commit ${cid.toString()} is missing from storage (compacted away?)`,
          );
        return bytes;
      },
      receive: async (commits, origin) => {
        if (this.#closed) throw new ClosedError(`ledger ${this.name}`);
        await this.#mergeCommits(
          commits.map((c) => c.cid),
          commits,
          origin,
        );
      },
      onChange: (listener) => {
        this.#changeListeners.add(listener);
        return () => this.#changeListeners.delete(listener);
      },
      loadSyncState: (remote) => this.#syncStates.get(remote),
      saveSyncState: (remote, state) => this.#syncStates.set(remote, state),
    };
    return this.#syncHost;
  }

  /** CIDs of the commits not reachable from the known commits of `boundary`, oldest first. */
  #since(boundary: readonly string[]): CID[] {
    const clock = this.#p.state.clock;
    return clock
      .since(boundary.filter((c) => clock.has(c)))
      .map((e) => this.#headCids.get(e.cid) ?? CID.parse(e.cid));
  }

  #emitChange(change: HostChange): void {
    for (const listener of this.#changeListeners) {
      try {
        listener(change);
      } catch (error) {
        this.#emitError(error);
      }
    }
  }

  /** Calls `listener` with the changed rows after every local write and every merge. */
  subscribe(listener: ChangesListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  on(event: "error", listener: ErrorListener): () => void {
    if (event !== "error")
      throw new InvalidArgumentError(`on: unknown event ${String(event)}`);
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /**
   * Writes a checkpoint of the merged state and drops every commit it makes redundant,
   * keeping the head commits.
   */
  compact(): Promise<void> {
    return this.#guard(() => this.#queue.run(() => this.#compact()));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Connections stop first: what they have not pushed stays in their outboxes, which
    // are recomputed from the clock on the next connect.
    await Promise.all([...this.#connections].map((c) => c.close()));
    await this.#queue.idle();
    this.#closed = true;
    try {
      if (this.#uncheckpointed > 0) {
        const size = await this.#checkpoint();
        // History the checkpoint already holds is dropped once it outweighs the state
        // itself, so a store does not grow with every write ever made — except commits a
        // remote has not acknowledged (see compact()). A ledger never connected keeps its
        // history: its first remote will need all of it, and a remote cannot yet be given
        // a checkpoint instead (an explicit compact() drops it all the same).
        const { remotes } = await this.#syncStates.all();
        if (
          Object.keys(remotes).length > 0 &&
          (await this.#p.storage.local.sizeOf(this.name)) >
            2 * size + 256 * 1024
        )
          await this.#p.storage.local.retainCommits(
            this.name,
            await this.#retained(),
          );
      }
    } finally {
      await this.#p.storage.close();
    }
  }

  /** Closes the ledger and deletes everything it stored locally, key included. */
  async destroy(): Promise<void> {
    await Promise.all([...this.#connections].map((c) => c.close()));
    await this.#queue.idle();
    const wasClosed = this.#closed;
    this.#closed = true;
    if (wasClosed) throw new ClosedError(`ledger ${this.name}`);
    await this.#p.storage.local.destroy(this.name);
    await this.#p.storage.close();
  }

  /**
   * Folds commits that arrived from elsewhere (a remote, or a replay of storage) into the
   * merged state. `commits` must hold every commit between the known clock and them.
   */
  async merge(commits: readonly CID[]): Promise<string[]> {
    return this.#mergeCommits(commits, undefined, undefined);
  }

  /**
   * Merges commits into the state and records the new heads in storage. `incoming` are
   * commits not stored yet: they are verified and decrypted first, and stored only when all
   * of them are good, so a commit under another key never reaches storage.
   */
  #mergeCommits(
    commits: readonly CID[],
    incoming: readonly WireCommit[] | undefined,
    origin: unknown,
  ): Promise<string[]> {
    return this.#queue.run(async () => {
      await this.#full();
      const { state, blocks, storage } = this.#p;
      let events;
      blocks.incoming =
        incoming && new Map(incoming.map((c) => [cidKey(c.cid), c.bytes]));
      const opened = new Map<string, OpenedCommit>();
      try {
        events = await readNewEvents(blocks, state.clock, commits, (k, o) =>
          opened.set(k, o),
        );
      } finally {
        blocks.incoming = undefined;
      }
      if (events.length === 0) return [];
      if (incoming) {
        const fresh = new Set(events.map((e) => e.cid));
        await Promise.all(
          incoming
            .filter((c) => fresh.has(cidString(c.cid)))
            .map((c) => storage.putCommit(this.name, c.cid, c.bytes)),
        );
      }
      const before = new Set(state.clock.heads);
      const { changed, update } = await state.merge(events);
      blocks.updateTree(update.nodes, update.replaced);
      // #notify reads the docs just merged: keep them from the commits already opened
      // rather than decrypting those again.
      if (this.#listeners.size > 0)
        for (const [commit, o] of opened) blocks.cacheDocs(commit, o);
      const after = state.clock.heads;
      const add = after.filter((h) => !before.has(h));
      const remove = [...before].filter((h) => !after.includes(h));
      if (add.length > 0 || remove.length > 0)
        await storage.putHeads(this.name, {
          add: add.map((h) => this.#headCid(h)),
          remove: remove.map((h) => this.#headCid(h)),
        });
      this.#uncheckpointed += events.reduce((n, e) => n + e.ops.length, 0);
      this.#maybeCheckpoint();
      this.#emitChange({ commits: events.map((e) => e.cid), origin });
      await this.#notify(changed);
      return changed;
    });
  }

  /** `id`'s current doc, which an index row says exists. */
  async #currentDoc(id: string): Promise<Doc> {
    const { state, blocks } = this.#p;
    if (!this.#lazy) {
      const winner = state.winner(id);
      if (!winner?.doc) throw new NotFoundError(id);
      return { _id: id, ...(await blocks.getDoc(id, winner)) };
    }
    const cid = await state.tree.get(state.root, id);
    if (!cid) throw new NotFoundError(id);
    return { _id: id, ...(await blocks.getDocByCid(id, cid)) };
  }

  /** The body of `id`'s current doc `cid`. */
  async #docAt(id: string, cid: CID): Promise<DocBody> {
    if (this.#lazy) return this.#p.blocks.getDocByCid(id, cid);
    const winner = this.#p.state.winner(id);
    if (!winner?.doc?.equals(cid))
      throw new CorruptError(
        "doc tree",
        `entry for ${JSON.stringify(id)} does not match its latest version`,
      );
    return this.#p.blocks.getDoc(id, winner);
  }

  /**
   * Queues a write. Writes that queue up while a commit is being made (calls not awaited
   * one by one) are committed together as one commit, in call order — a group commit: the
   * same ops and merged state as one commit each, at a fraction of the cost.
   */
  #write(docs: PreparedDoc[]): Promise<string[]> {
    const write = { docs, done: createDeferred<string[]>() };
    this.#pending.push(write);
    this.#scheduleCommit();
    return write.done.promise;
  }

  #scheduleCommit(): void {
    if (this.#commitQueued) return;
    this.#commitQueued = true;
    this.#queue
      .run(async () => {
        this.#commitQueued = false;
        await this.#commitPending();
        if (this.#pending.length > 0) this.#scheduleCommit();
      })
      .catch((error: unknown) => this.#emitError(error));
  }

  async #commitPending(): Promise<void> {
    let taken = 0;
    let count = 0;
    while (taken < this.#pending.length && count < MAX_GROUP_DOCS)
      count += this.#pending[taken++]!.docs.length;
    const batch = this.#pending.splice(0, taken);
    if (batch.length === 0) return;
    try {
      if (this.#closed) throw new ClosedError(`ledger ${this.name}`);
      await this.#full();
      const { state } = this.#p;
      // A deletion needs a live doc, counting earlier writes in the group; a write that
      // fails this is refused alone and whole (a bulk is all or nothing).
      const live = new Map<string, boolean>();
      const isLive = (id: string) =>
        live.get(id) ?? state.winner(id)?.doc != null;
      const hasDeletions = batch.some((w) =>
        w.docs.some((d) => d.body === null),
      );
      const accepted: typeof batch = hasDeletions ? [] : batch;
      for (const w of hasDeletions ? batch : []) {
        const mine = new Map<string, boolean>();
        const missing = w.docs.find((d) => {
          const was = mine.get(d.id) ?? isLive(d.id);
          mine.set(d.id, d.body !== null);
          return d.body === null && !was;
        });
        if (missing) w.done.reject(new NotFoundError(missing.id));
        else {
          for (const [id, v] of mine) live.set(id, v);
          accepted.push(w);
        }
      }
      if (accepted.length === 0) return;
      const clock = await this.#commit(
        accepted.length === 1
          ? accepted[0]!.docs
          : accepted.flatMap((w) => w.docs),
      );
      for (const w of accepted) w.done.resolve(clock);
    } catch (error) {
      for (const w of batch) w.done.reject(error);
    }
  }

  /** Seals the docs (the last write of an id wins) into one commit and stores it. */
  async #commit(docs: PreparedDoc[]): Promise<string[]> {
    const { state, blocks, storage, crypto, key } = this.#p;
    const { byId, ops, planned, parents, sealed } = await sealWrite(
      state,
      crypto,
      key,
      docs,
      (head) => this.#headCid(head),
    );
    await Promise.all([
      storage.putCommit(this.name, sealed.cid, sealed.bytes),
      storage.putHeads(this.name, { add: [sealed.cid], remove: parents }),
    ]);
    const commit = cidString(sealed.cid);
    this.#headCids.set(commit, sealed.cid);
    state.applyWrite(commit, ops, planned);
    blocks.updateTree(planned.update.nodes, planned.update.replaced);

    // Counted in ops, not commits: a few large bulks bound the replay as many puts do.
    this.#uncheckpointed += ops.length;
    this.#maybeCheckpoint();
    this.#emitChange({ commits: [commit], origin: undefined });
    // Docs just written are the likeliest to be read next; the cache is bounded.
    for (const d of byId.values())
      if (d.body) blocks.cacheBody(state.winner(d.id)!, d.body);
    await this.#notify(ops.map((o) => o[0]));
    return this.clock;
  }

  async #notify(ids: readonly string[]): Promise<void> {
    if (this.#listeners.size === 0) return;
    const rows: ChangeRow[] = [];
    for (const id of ids) {
      const w = this.#p.state.winner(id);
      rows.push(
        w?.doc
          ? { id, doc: { _id: id, ...(await this.#p.blocks.getDoc(id, w)) } }
          : { id, deleted: true },
      );
    }
    for (const listener of this.#listeners) {
      try {
        listener(rows);
      } catch (error) {
        this.#emitError(error);
      }
    }
  }

  /** Head strings back to CIDs without re-parsing the ones this ledger just wrote. */
  #headCid(head: string): CID {
    let cid = this.#headCids.get(head);
    if (!cid) {
      cid = CID.parse(head);
      this.#headCids.set(head, cid);
    }
    if (this.#headCids.size > 64)
      for (const k of [...this.#headCids.keys()])
        if (!this.#p.state.clock.heads.includes(k)) this.#headCids.delete(k);
    return cid;
  }

  #emitError(error: unknown): void {
    for (const l of this.#errorListeners) {
      try {
        l(error);
      } catch {
        // An error listener that throws has nowhere left to report to.
      }
    }
  }

  /**
   * Bounds what a reopen after a crash must replay: once the commits since the last
   * checkpoint outnumber the docs (and at least `checkpointEvery`), a checkpoint is
   * queued behind the current write. Its O(n) cost is spread over the n writes before it.
   */
  #maybeCheckpoint(): void {
    if (
      this.#uncheckpointed <
        Math.max(this.#p.checkpointEvery, this.#p.state.versions.size) ||
      this.#checkpointQueued
    )
      return;
    this.#checkpointQueued = true;
    this.#queue
      .run(async () => {
        this.#checkpointQueued = false;
        if (!this.#closed) await this.#checkpoint();
      })
      .catch((error: unknown) => this.#emitError(error));
  }

  /** Writes a checkpoint and returns its size in bytes. */
  async #checkpoint(): Promise<number> {
    await this.#full();
    const { state, blocks, crypto, key, storage, compression } = this.#p;
    // Field indexes are saved with the state, current at the same clock.
    const indexes = await Promise.all(
      [...this.#indexes.values()].map((index) => index.snapshot()),
    );
    const { bytes, checkpoint } = await encodeCheckpoint(
      state,
      blocks,
      crypto,
      key,
      compression,
      indexes,
    );
    await storage.local.putCheckpoint(this.name, bytes);
    // From here on, blocks of older commits are read from the checkpoint.
    blocks.useCheckpoint(checkpoint);
    this.#uncheckpointed = 0;
    return bytes.length;
  }

  async #compact(): Promise<void> {
    await this.#checkpoint();
    await this.#p.storage.local.retainCommits(
      this.name,
      await this.#retained(),
    );
  }

  /**
   * What compaction keeps: the heads, and every commit some remote this ledger was ever
   * connected to has not acknowledged — its outbox.
   */
  async #retained(): Promise<Set<string>> {
    const keep = new Set(this.#p.state.clock.heads);
    const { remotes } = await this.#syncStates.all();
    for (const r of Object.values(remotes))
      for (const cid of this.#since([...r.pushed, ...r.remote]))
        keep.add(cidString(cid));
    return keep;
  }

  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new ClosedError(`ledger ${this.name}`);
    return fn();
  }
}
