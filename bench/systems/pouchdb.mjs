// PouchDB 9 with its default Node adapter (leveldb via leveldown). Loaded from bench/node_modules.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(import.meta.url);

export const id = "pouchdb";
export const label = "PouchDB";

let PouchDB;

/** Import the library; throws with a clear message if it is not installed. */
export async function load() {
  const mod = await import("pouchdb");
  PouchDB = mod.default ?? mod;
  const version = require("pouchdb/package.json").version;
  return {
    version,
    note: "leveldb adapter (leveldown), unencrypted, no fsync per write",
  };
}

/** Open (or create) the store under `dir`. */
export async function open(dir, name) {
  mkdirSync(dir, { recursive: true }); // leveldown makes the store dir, not its parents
  const db = new PouchDB(join(dir, name));
  await db.info(); // force the adapter to open
  return {
    async put(doc) {
      return db.put(doc);
    },
    async bulk(docs) {
      const res = await db.bulkDocs(docs);
      for (const r of res)
        if (r.error)
          throw new Error(`bulkDocs: ${r.id} ${r.name}: ${r.message}`);
      return res;
    },
    async get(docId) {
      return db.get(docId);
    },
    async compact() {
      await db.compact();
    },
    async close() {
      await db.close();
    },
  };
}
