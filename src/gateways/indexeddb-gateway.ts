// indexeddb://name — a browser's local storage: one IndexedDB database (default "kiln")
// holding many ledgers. Writes are group-committed: every call made in one turn of the event
// loop goes into one readwrite transaction, and each call resolves once that transaction has
// completed. Head changes reach other handles (other tabs of the origin, and sibling handles
// in one page) over a BroadcastChannel, since IndexedDB has no change events.
// Layout and durability: docs/gateways.md ("indexeddb://").
import type { CID } from "../blocks/cid.js";
import { cidString } from "../blocks/cid.js";
import {
  ClosedError,
  InvalidUrlError,
  IoError,
  KilnError,
  MissingCommitError,
  QuotaError,
} from "../util/errors.js";
import { checkLedgerName } from "../util/ledger-name.js";
import { applyHeadUpdate, EMPTY_HEADS } from "./apply-head-update.js";
import type {
  Gateway,
  GatewayFactory,
  HeadSet,
  HeadUpdate,
  LocalStorage,
  Unsubscribe,
} from "./gateway.js";
import { HeadWatchers } from "./head-watchers.js";
import { IdbBatch, request } from "./idb-batch.js";
import type { WriteOp } from "./idb-batch.js";
import { createIndexedDbLocal } from "./indexeddb-local.js";
import {
  asBytes,
  asError,
  COMMITS,
  copyBytes,
  HEADS,
  parseCid,
  readHeads,
  STORES,
} from "./indexeddb-records.js";

export type Durability = "strict" | "relaxed";

export interface IndexedDbGatewayOptions {
  /** The IndexedDB database name. */
  readonly name: string;
  /**
   * strict: a resolved write survives a power loss (the browser flushes to disk first).
   * relaxed: it survives a crash or kill of the browser, not of the machine.
   */
  readonly durability: Durability;
}

const VERSION = 1;

export const indexedDbGateway: GatewayFactory<IndexedDbGatewayOptions> = {
  schemes: ["indexeddb:"],
  parse(url) {
    const text = url.href;
    if (!text.startsWith("indexeddb://"))
      throw new InvalidUrlError(text, "expected indexeddb://name");
    if (url.pathname !== "" && url.pathname !== "/")
      throw new InvalidUrlError(text, "an indexeddb database name has no path");
    if (url.username !== "" || url.password !== "" || url.port !== "")
      throw new InvalidUrlError(
        text,
        "indexeddb:// takes no credentials or port",
      );
    if (url.hash !== "")
      throw new InvalidUrlError(text, "indexeddb:// takes no fragment");
    let durability: Durability = "strict";
    for (const [key, value] of url.searchParams) {
      if (key !== "durability" || (value !== "strict" && value !== "relaxed"))
        throw new InvalidUrlError(
          text,
          "the only option is ?durability=strict|relaxed",
        );
      durability = value;
    }
    if (url.host === "")
      throw new InvalidUrlError(text, "indexeddb:// needs a database name");
    let name: string;
    try {
      name = decodeURIComponent(url.host);
    } catch {
      throw new InvalidUrlError(
        text,
        "database name is not valid percent-encoding",
      );
    }
    return { name, durability };
  },
  async open(options) {
    const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!idb)
      throw new InvalidUrlError(
        `indexeddb://${encodeURIComponent(options.name)}`,
        "this platform has no IndexedDB",
      );
    const opening = idb.open(options.name, VERSION);
    opening.onupgradeneeded = () => {
      const db = opening.result;
      for (const store of STORES)
        if (!db.objectStoreNames.contains(store)) db.createObjectStore(store);
    };
    let db: IDBDatabase;
    try {
      db = await request(opening);
    } catch (error) {
      throw new IoError(`open indexeddb ${options.name}`, { cause: error });
    }
    return new IndexedDbGateway(options, db);
  },
};

interface HeadsMessage {
  readonly ledger: string;
  readonly heads: readonly string[];
}

class IndexedDbGateway implements Gateway {
  readonly url: string;
  readonly local: LocalStorage;
  readonly #db: IDBDatabase;
  readonly #batch: IdbBatch;
  readonly #watchers = new HeadWatchers();
  #channel: BroadcastChannel | undefined;
  #closed = false;

  constructor(options: IndexedDbGatewayOptions, db: IDBDatabase) {
    const query = options.durability === "strict" ? "" : "?durability=relaxed";
    this.url = `indexeddb://${encodeURIComponent(options.name)}${query}`;
    this.#db = db;
    // Another tab deleting or upgrading the database must not wait on this handle forever.
    db.onversionchange = () => db.close();
    this.#batch = new IdbBatch(db, STORES, options.durability, toWriteError);
    if (typeof BroadcastChannel === "function") {
      this.#channel = new BroadcastChannel(`kiln-heads:${options.name}`);
      this.#channel.onmessage = (event: MessageEvent<HeadsMessage>) => {
        const { ledger, heads } = event.data;
        this.#watchers.notify(ledger, this.#channel!, heads.map(parseCid));
      };
    }
    this.local = createIndexedDbLocal({
      read: (operation, ledger, read) => this.#read(operation, ledger, read),
      write: (operation, ledger, op) => this.#write(operation, ledger, op),
    });
  }

  putCommit(ledger: string, cid: CID, bytes: Uint8Array): Promise<void> {
    // Copied now: the caller may reuse its buffer before the transaction runs.
    const copy = copyBytes(bytes);
    const key = cidString(cid);
    return this.#write("put commit", ledger, (tx) => {
      tx.objectStore(COMMITS).put(copy, [ledger, key]);
    });
  }

  getCommit(ledger: string, cid: CID): Promise<Uint8Array | undefined> {
    return this.#read("get commit", ledger, (tx) =>
      request<unknown>(
        tx.objectStore(COMMITS).get([ledger, cidString(cid)]),
      ).then(asBytes),
    );
  }

  getHeads(ledger: string): Promise<HeadSet> {
    return this.#read("get heads", ledger, (tx) => readHeads(tx, ledger));
  }

  putHeads(ledger: string, update: HeadUpdate): Promise<HeadSet> {
    let next: HeadSet = EMPTY_HEADS;
    let changed = false;
    return this.#write("put heads", ledger, async (tx) => {
      const commits = tx.objectStore(COMMITS);
      for (const cid of update.add) {
        const held = await request(commits.getKey([ledger, cidString(cid)]));
        if (held === undefined)
          throw new MissingCommitError(ledger, cidString(cid));
      }
      const current = await readHeads(tx, ledger);
      const updated = applyHeadUpdate(current, update);
      next = updated ?? current;
      if (updated === undefined) return;
      changed = true;
      tx.objectStore(HEADS).put(updated.map(cidString), ledger);
    }).then(() => {
      if (changed && this.#channel && !this.#closed) {
        const message: HeadsMessage = { ledger, heads: next.map(cidString) };
        this.#channel.postMessage(message);
      }
      return next;
    });
  }

  watch(ledger: string, onHeads: (heads: HeadSet) => void): Unsubscribe {
    checkLedgerName("watch", ledger);
    if (this.#closed) throw new ClosedError(`watch: gateway ${this.url}`);
    return this.#watchers.add(ledger, this, onHeads);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#channel?.close();
    this.#channel = undefined;
    this.#watchers.removeOwner(this);
    await this.#batch.drain();
    this.#db.close();
  }

  /** `ledger` undefined: a record of the whole storage (the writer key). */
  #write(
    operation: string,
    ledger: string | undefined,
    op: WriteOp,
  ): Promise<void> {
    if (this.#closed)
      return Promise.reject(
        new ClosedError(`${operation}: gateway ${this.url}`),
      );
    // Checked and queued synchronously: a read issued right after must find it queued.
    try {
      if (ledger !== undefined) checkLedgerName(operation, ledger);
    } catch (error) {
      return Promise.reject(asError(error));
    }
    return this.#batch.add(operation, op);
  }

  async #read<T>(
    operation: string,
    ledger: string | undefined,
    read: (tx: IDBTransaction) => Promise<T>,
  ): Promise<T> {
    if (this.#closed)
      throw new ClosedError(`${operation}: gateway ${this.url}`);
    if (ledger !== undefined) checkLedgerName(operation, ledger);
    // Writes queued before this read are started first: IndexedDB runs transactions whose
    // scopes overlap in the order they were created, so the read sees them.
    this.#batch.flush();
    try {
      const tx = this.#db.transaction(STORES, "readonly");
      return await read(tx);
    } catch (error) {
      if (error instanceof KilnError) throw error;
      throw new IoError(`${operation} of ${JSON.stringify(ledger ?? "")}`, {
        cause: error,
      });
    }
  }
}

/** A failed write transaction as a Kiln error: a full quota is a QuotaError. */
function toWriteError(operation: string, error: unknown): Error {
  if (error instanceof KilnError) return error;
  if (
    typeof error === "object" &&
    error !== null &&
    (error as { name?: unknown }).name === "QuotaExceededError"
  )
    return new QuotaError(operation, { cause: error });
  return new IoError(operation, { cause: error });
}
