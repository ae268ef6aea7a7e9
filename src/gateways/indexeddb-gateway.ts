// indexeddb://name — a browser's local storage: one IndexedDB database (default "kiln")
// holding many ledgers. Writes are group-committed: every call made in one turn of the event
// loop goes into one readwrite transaction, and each call resolves once that transaction has
// completed. Head changes reach other handles (other tabs of the origin, and sibling handles
// in one page) over a BroadcastChannel, since IndexedDB has no change events.
// Layout and durability: docs/gateways.md ("indexeddb://").
import { CID } from "../blocks/cid.js";
import { cidString } from "../blocks/cid.js";
import {
  ClosedError,
  CorruptError,
  InvalidArgumentError,
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
import { checkMetaName } from "./ledger-name.js";

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
const COMMITS = "commits";
const HEADS = "heads";
const LOCAL = "local";
const STORES = [COMMITS, HEADS, LOCAL];

// Keys: commits [ledger, cid], heads ledger, local [ledger, kind, name]. An array sorts after
// every string, so [ledger] .. [ledger, []] bounds all of one ledger's keys.
/** The device's writer key: a number sorts before every string, so no ledger's range holds it. */
const WRITER_KEY = [0, "writer"];
const ledgerRange = (ledger: string) =>
  IDBKeyRange.bound([ledger], [ledger, []]);

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
    this.local = {
      getWriterKey: () =>
        this.#read("get writer key", undefined, (tx) =>
          request<unknown>(tx.objectStore(LOCAL).get(WRITER_KEY)).then((v) =>
            typeof v === "string" ? v : undefined,
          ),
        ),
      putWriterKey: (key) => {
        let stored = key;
        return this.#write("put writer key", undefined, async (tx) => {
          const local = tx.objectStore(LOCAL);
          const found = await request<unknown>(local.get(WRITER_KEY));
          if (typeof found === "string") stored = found;
          else local.put(key, WRITER_KEY);
        }).then(() => stored);
      },
      getKey: (ledger) =>
        this.#read("get key", ledger, (tx) =>
          request<unknown>(tx.objectStore(LOCAL).get([ledger, "key", ""])).then(
            (v) => (typeof v === "string" ? v : undefined),
          ),
        ),
      putKey: (ledger, key) =>
        this.#write("put key", ledger, (tx) => {
          tx.objectStore(LOCAL).put(key, [ledger, "key", ""]);
        }),
      getCheckpoint: (ledger) =>
        this.#read("get checkpoint", ledger, (tx) =>
          request<unknown>(
            tx.objectStore(LOCAL).get([ledger, "checkpoint", ""]),
          ).then(asBytes),
        ),
      putCheckpoint: (ledger, bytes) => {
        const copy = copyBytes(bytes);
        return this.#write("put checkpoint", ledger, (tx) => {
          tx.objectStore(LOCAL).put(copy, [ledger, "checkpoint", ""]);
        });
      },
      getMeta: (ledger, name) => {
        const checked = guard(() => checkMetaName(name));
        return this.#read("get meta", ledger, async (tx) =>
          asBytes(
            await request<unknown>(
              tx.objectStore(LOCAL).get([ledger, "meta", await checked]),
            ),
          ),
        );
      },
      putMeta: (ledger, name, bytes) => {
        try {
          checkMetaName(name);
        } catch (error) {
          return Promise.reject(asError(error));
        }
        const copy = copyBytes(bytes);
        return this.#write("put meta", ledger, (tx) => {
          tx.objectStore(LOCAL).put(copy, [ledger, "meta", name]);
        });
      },
      listCommits: (ledger) =>
        this.#read("list commits", ledger, async (tx) => {
          const keys = await request(
            tx.objectStore(COMMITS).getAllKeys(ledgerRange(ledger)),
          );
          return keys.map((k) => parseCid((k as [string, string])[1]));
        }),
      retainCommits: (ledger, keep) =>
        this.#write("retain commits", ledger, (tx) => retain(tx, ledger, keep)),
      sizeOf: (ledger) =>
        this.#read("size of", ledger, (tx) => sizeOf(tx, ledger)),
      destroy: (ledger) =>
        this.#write("destroy", ledger, (tx) => {
          tx.objectStore(COMMITS).delete(ledgerRange(ledger));
          tx.objectStore(LOCAL).delete(ledgerRange(ledger));
          tx.objectStore(HEADS).delete(ledger);
        }),
    };
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

async function readHeads(tx: IDBTransaction, ledger: string): Promise<HeadSet> {
  const stored = await request<unknown>(tx.objectStore(HEADS).get(ledger));
  if (stored === undefined) return EMPTY_HEADS;
  if (!Array.isArray(stored) || stored.some((s) => typeof s !== "string"))
    throw new CorruptError(
      `heads of ${JSON.stringify(ledger)}`,
      "not a list of cids",
    );
  return Object.freeze((stored as string[]).map(parseCid));
}

async function retain(
  tx: IDBTransaction,
  ledger: string,
  keep: ReadonlySet<string>,
): Promise<void> {
  for (const head of await readHeads(tx, ledger))
    if (!keep.has(cidString(head)))
      throw new InvalidArgumentError(
        `retain commits of ${JSON.stringify(ledger)}: head ${cidString(head)} is not in the kept set`,
      );
  const commits = tx.objectStore(COMMITS);
  const keys = await request(commits.getAllKeys(ledgerRange(ledger)));
  for (const key of keys) {
    const cid = (key as [string, string])[1];
    if (!keep.has(cid)) commits.delete(key);
  }
}

async function sizeOf(tx: IDBTransaction, ledger: string): Promise<number> {
  let size = 0;
  for (const store of [COMMITS, LOCAL]) {
    const values = await request(
      tx.objectStore(store).getAll(ledgerRange(ledger)),
    );
    const keys = await request(
      tx.objectStore(store).getAllKeys(ledgerRange(ledger)),
    );
    for (const v of values)
      size += v instanceof Uint8Array ? v.byteLength : String(v).length;
    for (const k of keys) size += (k as string[]).join("").length;
  }
  const heads = await request<unknown>(tx.objectStore(HEADS).get(ledger));
  if (Array.isArray(heads)) size += heads.join("").length;
  return size;
}

function parseCid(text: string): CID {
  try {
    return CID.parse(text);
  } catch (error) {
    throw new CorruptError(`cid ${text}`, "not a cid", { cause: error });
  }
}

function asBytes(value: unknown): Uint8Array | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Uint8Array))
    throw new CorruptError("indexeddb record", "not bytes");
  return value;
}

function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}

function guard<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(asError(error));
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
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
