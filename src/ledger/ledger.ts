// The public Ledger: JSON docs in, encrypted commits out. Writes apply serially in call
// order (a replica's own writes are causally ordered) and never wait for any remote.
// This class is a front: openLedger() gathers the parts, ledger-assembly.ts wires them,
// and each call is handed to the part that does that one job (ledger-writes.ts for
// writes, gated-reads.ts for reads, ledger-life.ts for the closed state and teardown).
import { encodeLedgerKey } from "../blocks/ledger-key.js";
import type { Connection } from "../sync/connection.js";
import { encodeWriter } from "../trust/signing.js";
import { InvalidArgumentError } from "../util/errors.js";
import type { OnProgress } from "../util/progress.js";
import type { Doc, DocFields, DocInput } from "./doc.js";
import { checkId } from "./doc.js";
import { docHistory } from "./doc-history.js";
import type { DocVersion } from "./doc-history.js";
import { assembleLedger } from "./ledger-assembly.js";
import type { LedgerAssembly, LedgerParts } from "./ledger-assembly.js";
import { openLedgerAt } from "./ledger-at.js";
import type { LedgerAt } from "./ledger-at.js";
import type {
  ChangesInfo,
  ChangesListener,
  ErrorListener,
} from "./ledger-events.js";
import type { MemberList } from "./ledger-members.js";
import { inviteMember, removeMember } from "./ledger-trust.js";
import type { BulkResult, WriteResult } from "./ledger-writes.js";
import { startLiveQuery } from "./live-query.js";
import type { MapFn, QueryOptions, QueryRow } from "./query.js";
import type { AllDocsOptions, ChangeRow, ChangesResult } from "./reads.js";
import type { DocSchema } from "./schema-gate.js";
import type { ConnectOptions } from "./sync-host.js";

export type { AllDocsOptions, ChangeRow, ChangesResult };
export type { MapFn, QueryOptions, QueryRow };
export type { ConnectOptions };
export type { DocSchema };
export type { DocVersion, LedgerAt };
export type { MemberList };
export type { ChangesInfo, ChangesListener, ErrorListener };
export type { BulkResult, LedgerParts, WriteResult };

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
  /** The parts this class fronts (ledger-assembly.ts). */
  readonly #a: LedgerAssembly;

  /** @internal Ledgers are made by openLedger(). */
  constructor(parts: LedgerParts) {
    this.#p = parts;
    this.name = parts.name;
    this.#a = assembleLedger(this, parts);
  }

  /** The current heads: commit CIDs. */
  get clock(): string[] {
    return this.#a.loader.heads;
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
    this.#a.life.check();
    return this.#p.members.membersAt(this.#a.loader.heads);
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
    return this.#a.life.guard(() =>
      inviteMember(this.#a.trust, writer, options.role),
    );
  }

  /**
   * Removes `writer` from this membered ledger and rotates the content key: what is
   * written after (every commit descending from the removal) is sealed under a new key
   * given to the remaining members only. Admins only (or the writer itself).
   */
  remove(writer: string): Promise<WriteResult> {
    return this.#a.life.guard(async () => ({
      id: writer,
      clock: await removeMember(this.#a.trust, writer),
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
    return this.#a.writes.put(doc);
  }

  /** Writes several docs as one commit: all of them or, on any bad doc, none. */
  bulk(docs: readonly DocInput<T>[]): Promise<BulkResult> {
    return this.#a.writes.bulk(docs);
  }

  /** Deletes a doc: a tombstone, merged like any write. */
  del(id: string): Promise<WriteResult> {
    return this.#a.writes.del(id);
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
    return this.#a.reads.get(id, options) as Promise<
      Doc<T> & { _conflicts?: Doc<T>[] }
    >;
  }

  /**
   * Whether `id` has a live doc (false when it was never written or is deleted). Reads no
   * doc and applies no schema.
   */
  has(id: string): Promise<boolean> {
    return this.#a.reads.has(id);
  }

  /** Docs in id order (or a range of ids), with the clock they were read at. */
  allDocs(
    options: AllDocsOptions = {},
  ): Promise<{ rows: { id: string; doc: Doc<T> }[]; clock: string[] }> {
    return this.#a.reads.allDocs(options) as Promise<{
      rows: { id: string; doc: Doc<T> }[];
      clock: string[];
    }>;
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
    return this.#a.reads.changes(since, options) as Promise<ChangesResult<T>>;
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
    return this.#a.reads.query(index as string | MapFn, options) as Promise<{
      rows: QueryRow<T>[];
    }>;
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
      subscribe: (listener) => this.#a.events.onRows(listener),
      onResult: onResult as (result: { rows: QueryRow[] }) => void,
      onError: onError ?? ((error) => this.#a.events.emitError(error)),
    });
  }

  /**
   * Every version of doc `id` this replica's history holds, newest first: each with the
   * commit that wrote it, its writer and height, and for a put the whole doc and the fields
   * it changed. Finds them in the in-memory clock and opens only the commits that wrote the
   * doc. A version whose commit compaction let go is listed as `dropped`.
   */
  history(id: string): Promise<DocVersion<T>[]> {
    return this.#a.life.guard(() => docHistory<T>(this.#a.past, checkId(id)));
  }

  /**
   * A read-only view of the ledger at a past `clock` (commit CIDs, as `clock` and every write
   * result give them): get, has, allDocs, changes and query as they were then; writes throw
   * `ReadOnlyError`. Reads every commit that clock covers; a `HistoryGoneError` names one
   * this replica no longer holds (compaction let it go).
   */
  at(clock: readonly string[]): Promise<LedgerAt<T>> {
    return this.#a.life.guard(() => openLedgerAt<T>(this.#a.past, clock));
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
    this.#a.life.check();
    return this.#a.sync.connect(url, options);
  }

  /** The open connections, in the order they were made. */
  get connections(): Connection[] {
    return this.#a.sync.connections;
  }

  /**
   * Calls `listener` with the changed rows after every local write and every merge. With a
   * schema, rows of docs failing it are left out (deletions always come through).
   */
  subscribe(listener: ChangesListener<T>): () => void {
    const gate = this.#a.gate;
    const all = listener as ChangesListener;
    return this.#a.events.onRows(
      gate ? gate.listener(all, (e) => this.#a.events.emitError(e)) : all,
    );
  }

  /** Listens for background failures (merges, map functions, checkpoints, schema reports); returns the unsubscribe. */
  on(event: "error", listener: ErrorListener): () => void {
    if (event !== "error")
      throw new InvalidArgumentError(`on: unknown event ${String(event)}`);
    return this.#a.events.onError(listener);
  }

  /**
   * Writes a checkpoint of the merged state and drops every commit it makes redundant,
   * keeping the head commits.
   */
  compact(options: { onProgress?: OnProgress } = {}): Promise<void> {
    return this.#a.life.guard(() =>
      this.#a.queue.run(async () => {
        // Compaction drops commits the membership index is rebuilt from: save it first.
        await this.#p.members.save();
        await this.#a.checkpointer.compact(options.onProgress);
      }),
    );
  }

  /** Bytes the ledger occupies in its local storage (commits, heads, checkpoint), as the storage counts them. */
  storedBytes(): Promise<number> {
    return this.#a.life.guard(() => this.#p.storage.local.sizeOf(this.name));
  }

  /** Closes the connections, finishes queued writes and writes a checkpoint; the ledger is not used after. */
  close(): Promise<void> {
    return this.#a.life.close(this.#a.teardown);
  }

  /** Closes the ledger and deletes everything it stored locally, key included. */
  destroy(): Promise<void> {
    return this.#a.life.destroy(this.#a.teardown);
  }
}
