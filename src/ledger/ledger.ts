// The public Ledger: JSON docs in, encrypted commits out. Writes apply serially in call
// order (a replica's own writes are causally ordered) and never wait for any remote.
// This class checks arguments and the closed state, and hands each call to the part that
// does that one job.
import type { CryptoProvider } from "../blocks/crypto.js";
import { encodeLedgerKey } from "../blocks/ledger-key.js";
import type { Compression } from "../blocks/node-compression.js";
import type { LedgerState } from "../crdt/ledger-state.js";
import type { Gateway, LocalStorage } from "../gateways/gateway.js";
import type { Registry } from "../gateways/registry.js";
import type { Connection } from "../sync/connection.js";
import { ClosedError, InvalidArgumentError } from "../util/errors.js";
import { SerialQueue } from "../util/serial-queue.js";
import type { BlockSource } from "./block-source.js";
import type { Checkpoint } from "./checkpoint.js";
import { Checkpointer } from "./checkpointer.js";
import { CommitCids } from "./commit-cids.js";
import type { Doc, DocInput } from "./doc.js";
import { checkId } from "./doc.js";
import { DocReader } from "./doc-reader.js";
import { GroupCommit } from "./group-commit.js";
import { IndexRegistry } from "./index-registry.js";
import { LedgerEvents } from "./ledger-events.js";
import type { ChangesListener, ErrorListener } from "./ledger-events.js";
import { startLiveQuery } from "./live-query.js";
import { Merger } from "./merger.js";
import type { MapFn, QueryOptions, QueryRow } from "./query.js";
import { allDocsRows, changeRows } from "./reads.js";
import type { AllDocsOptions, ChangeRow } from "./reads.js";
import { StateLoader } from "./state-loader.js";
import { LedgerSync } from "./sync-host.js";
import type { ConnectOptions } from "./sync-host.js";
import { OutboxStore } from "../sync/outbox.js";
import { prepareDoc } from "./write-commit.js";

export type { AllDocsOptions, ChangeRow };
export type { MapFn, QueryOptions, QueryRow };
export type { ConnectOptions };
export type { ChangesListener, ErrorListener };

export interface WriteResult {
  id: string;
  clock: string[];
}

export interface BulkResult {
  ids: string[];
  clock: string[];
}

export interface LedgerParts {
  name: string;
  storage: Gateway & { local: LocalStorage };
  /** The gateway registry the ledger was opened with; connect() resolves through it. */
  registry: Registry;
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
  /** Ops replayed on open, since the last checkpoint. */
  uncheckpointed: number;
}

/** Commits after which a checkpoint is written even for a small ledger. */
export const AUTO_CHECKPOINT_COMMITS = 20_000;

export class Ledger {
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
  #closed = false;

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
    const checkpointer = new Checkpointer({
      ledger: name,
      local: storage.local,
      loader,
      blocks,
      crypto,
      key,
      compression: parts.compression,
      indexes,
      outboxes,
      cids,
      queue,
      isClosed,
      onError,
      every: parts.checkpointEvery,
      uncheckpointed: 0,
    });
    const common = { ledger: name, storage, loader, blocks, cids, queue };
    const merger = new Merger({ ...common, events, reader, checkpointer });
    this.#writes = new GroupCommit({
      ...common,
      crypto,
      key,
      events,
      reader,
      checkpointer,
      isClosed,
    });
    this.#sync = new LedgerSync({
      name,
      storage,
      registry: parts.registry,
      loader,
      crypto,
      cids,
      events,
      outboxes,
      isClosed,
      merge: (commits, incoming, origin) =>
        merger.merge(commits, incoming, origin),
    });
    this.#loader = loader;
    this.#reader = reader;
    this.#indexes = indexes;
    this.#checkpointer = checkpointer;
    // Ops replayed on open count towards the next checkpoint.
    checkpointer.added(parts.uncheckpointed);
  }

  /** The current heads: commit CIDs. */
  get clock(): string[] {
    return this.#loader.heads;
  }

  /** The ledger key as base64url, to share with another replica. */
  get key(): string {
    return encodeLedgerKey(this.#p.key);
  }

  put(doc: DocInput): Promise<WriteResult> {
    return this.#guard(async () => {
      const prepared = prepareDoc(doc, this.#p.newId, this.#p.crypto);
      const clock = await this.#writes.write([prepared]);
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
      const clock = await this.#writes.write(prepared);
      return { ids: prepared.map((p) => p.id), clock };
    });
  }

  del(id: string): Promise<WriteResult> {
    return this.#guard(async () => {
      checkId(id);
      const clock = await this.#writes.write([
        { id, body: null, block: undefined },
      ]);
      return { id, clock };
    });
  }

  get(id: string, options: { conflicts?: boolean } = {}): Promise<Doc> {
    return this.#guard(() => {
      checkId(id);
      return this.#reader.get(id, options.conflicts === true);
    });
  }

  allDocs(
    options: AllDocsOptions = {},
  ): Promise<{ rows: { id: string; doc: Doc }[]; clock: string[] }> {
    return this.#guard(async () => ({
      rows: await allDocsRows(this.#loader.state, options, (id, cid) =>
        this.#reader.at(id, cid),
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
      await this.#loader.ready();
      return changeRows(this.#loader.state, since, options.limit, (id, cid) =>
        this.#reader.at(id, cid),
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
    return this.#guard(() =>
      this.#queue.run(() => this.#indexes.query(index, options)),
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
    return startLiveQuery({
      query: () => this.query(index, options),
      subscribe: (listener) => this.subscribe(listener),
      onResult,
      onError: (error) => this.#events.emitError(error),
    });
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

  /** Calls `listener` with the changed rows after every local write and every merge. */
  subscribe(listener: ChangesListener): () => void {
    return this.#events.onRows(listener);
  }

  on(event: "error", listener: ErrorListener): () => void {
    if (event !== "error")
      throw new InvalidArgumentError(`on: unknown event ${String(event)}`);
    return this.#events.onError(listener);
  }

  /**
   * Writes a checkpoint of the merged state and drops every commit it makes redundant,
   * keeping the head commits.
   */
  compact(): Promise<void> {
    return this.#guard(() =>
      this.#queue.run(() => this.#checkpointer.compact()),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#sync.closeAll();
    await this.#queue.idle();
    this.#closed = true;
    try {
      await this.#checkpointer.onClose();
    } finally {
      await this.#p.storage.close();
    }
  }

  /** Closes the ledger and deletes everything it stored locally, key included. */
  async destroy(): Promise<void> {
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
}
