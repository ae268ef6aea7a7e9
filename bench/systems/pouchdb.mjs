// PouchDB 9 with its default Node adapter (leveldb via leveldown). Loaded from bench/node_modules.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(import.meta.url);

export const id = "pouchdb";
export const label = "PouchDB";

let PouchDB;

/** A find of ~5,000 docs takes PouchDB 1-2 s: cap Q2's repeats and Q3's cycles. */
export const queryRepeatCap = Number(process.env.BENCH_POUCH_QREPEATS ?? 5);
export const queryCycleCap = Number(process.env.BENCH_POUCH_QCYCLES ?? 6);

/** Import the library; throws with a clear message if it is not installed. */
export async function load() {
  const mod = await import("pouchdb");
  PouchDB = mod.default ?? mod;
  const find = await import("pouchdb-find");
  PouchDB.plugin(find.default ?? find);
  const version = require("pouchdb/package.json").version;
  return {
    version,
    note: "leveldb adapter (leveldown), unencrypted, no fsync per write; queries via pouchdb-find",
  };
}

/** Open (or create) the store under `dir`. */
export async function open(dir, name) {
  mkdirSync(dir, { recursive: true }); // leveldown makes the store dir, not its parents
  const db = new PouchDB(join(dir, name));
  await db.info(); // force the adapter to open
  const indexed = new Set(); // fields whose Mango index this instance has created
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
    /** Replace a doc that exists: `doc` must carry its current _rev; returns it with the new one. */
    async update(doc) {
      const { rev } = await db.put(doc);
      return { ...doc, _rev: rev };
    },
    /**
     * pouchdb-find: the first query of a field creates its Mango index (a persisted
     * map/reduce view, built on the first find), then `find` with an equality selector.
     */
    async query(field, key, { limit } = {}) {
      if (!indexed.has(field)) {
        await db.createIndex({ index: { fields: [field] } });
        indexed.add(field);
      }
      const { docs, warning } = await db.find({
        selector: { [field]: key },
        // find's default limit is 25: ask for every match unless a limit is given
        limit: limit ?? Number.MAX_SAFE_INTEGER,
      });
      if (warning) throw new Error(`pouchdb-find: ${warning}`);
      return docs.map((doc) => ({ id: doc._id, key: doc[field], doc }));
    },
    async compact() {
      await db.compact();
    },
    async close() {
      await db.close();
    },
  };
}
