// The LocalStorage duties of an indexeddb:// gateway: the writer key, ledger keys,
// checkpoints, meta records, listing, retain and destroy. Keys are put-if-absent inside one
// readwrite transaction, so two tabs creating one ledger at the same moment agree on a key.
import { cidString } from "../blocks/cid.js";
import { InvalidArgumentError } from "../util/errors.js";
import type { LocalStorage } from "./gateway.js";
import { request } from "./idb-batch.js";
import type { WriteOp } from "./idb-batch.js";
import {
  asBytes,
  asError,
  COMMITS,
  copyBytes,
  HEADS,
  LOCAL,
  ledgerRange,
  parseCid,
  readHeads,
  WRITER_KEY,
} from "./indexeddb-records.js";
import { checkMetaName } from "./ledger-name.js";

/** How the duties reach the database: the gateway's checked, group-committed calls. */
export interface IdbAccess {
  /** `ledger` undefined: a record of the whole storage (the writer key). */
  write(
    operation: string,
    ledger: string | undefined,
    op: WriteOp,
  ): Promise<void>;
  read<T>(
    operation: string,
    ledger: string | undefined,
    read: (tx: IDBTransaction) => Promise<T>,
  ): Promise<T>;
}

export function createIndexedDbLocal(db: IdbAccess): LocalStorage {
  const getString = (
    operation: string,
    ledger: string | undefined,
    key: IDBValidKey,
  ) =>
    db.read(operation, ledger, (tx) =>
      request<unknown>(tx.objectStore(LOCAL).get(key)).then((v) =>
        typeof v === "string" ? v : undefined,
      ),
    );
  // Read and written in one transaction: a concurrent put (another tab) commits before or
  // after it as a whole, so exactly one key is ever stored.
  const putStringIfAbsent = (
    operation: string,
    ledger: string | undefined,
    key: IDBValidKey,
    value: string,
  ): Promise<string> => {
    let stored = value;
    return db
      .write(operation, ledger, async (tx) => {
        const local = tx.objectStore(LOCAL);
        const found = await request<unknown>(local.get(key));
        if (typeof found === "string") stored = found;
        else local.put(value, key);
      })
      .then(() => stored);
  };
  return {
    getWriterKey: () => getString("get writer key", undefined, WRITER_KEY),
    putWriterKey: (key) =>
      putStringIfAbsent("put writer key", undefined, WRITER_KEY, key),
    getKey: (ledger) => getString("get key", ledger, [ledger, "key", ""]),
    putKey: (ledger, key) =>
      putStringIfAbsent("put key", ledger, [ledger, "key", ""], key),
    getCheckpoint: (ledger) =>
      db.read("get checkpoint", ledger, (tx) =>
        request<unknown>(
          tx.objectStore(LOCAL).get([ledger, "checkpoint", ""]),
        ).then(asBytes),
      ),
    putCheckpoint: (ledger, bytes) => {
      const copy = copyBytes(bytes);
      return db.write("put checkpoint", ledger, (tx) => {
        tx.objectStore(LOCAL).put(copy, [ledger, "checkpoint", ""]);
      });
    },
    getMeta: (ledger, name) => {
      try {
        checkMetaName(name);
      } catch (error) {
        return Promise.reject(asError(error));
      }
      return db.read("get meta", ledger, async (tx) =>
        asBytes(
          await request<unknown>(
            tx.objectStore(LOCAL).get([ledger, "meta", name]),
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
      return db.write("put meta", ledger, (tx) => {
        tx.objectStore(LOCAL).put(copy, [ledger, "meta", name]);
      });
    },
    listCommits: (ledger) =>
      db.read("list commits", ledger, async (tx) => {
        const keys = await request(
          tx.objectStore(COMMITS).getAllKeys(ledgerRange(ledger)),
        );
        return keys.map((k) => parseCid((k as [string, string])[1]));
      }),
    retainCommits: (ledger, keep) =>
      db.write("retain commits", ledger, (tx) => retain(tx, ledger, keep)),
    sizeOf: (ledger) => db.read("size of", ledger, (tx) => sizeOf(tx, ledger)),
    destroy: (ledger) =>
      db.write("destroy", ledger, (tx) => {
        tx.objectStore(COMMITS).delete(ledgerRange(ledger));
        tx.objectStore(LOCAL).delete(ledgerRange(ledger));
        tx.objectStore(HEADS).delete(ledger);
      }),
  };
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
