// @fireproof/core 0.24 with its Node file gateway; store and key bag both under `dir`.
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);

export const id = "fireproof";
export const label = "Fireproof";

/** Fireproof's sequential put runs at ~70-100 docs/s: cap that workload (BENCH_FP_SEQ). */
export const seqPutCap = Number(process.env.BENCH_FP_SEQ ?? 300);
/** ...and its gets at ~500/s: time this many of the random-order gets (BENCH_FP_GETS). */
export const getCap = Number(process.env.BENCH_FP_GETS ?? 2000);
/** ...and a query of ~5,000 docs ~10 s, a put-then-query cycle ~7 s: cap Q2 and Q3. */
export const queryRepeatCap = Number(process.env.BENCH_FP_QREPEATS ?? 2);
export const queryCycleCap = Number(process.env.BENCH_FP_QCYCLES ?? 2);

let fireproof;

export async function load() {
  ({ fireproof } = await import("@fireproof/core"));
  const version = require("@fireproof/core/package.json").version;
  return { version, note: "file gateway, encrypted (default key bag)" };
}

export async function open(dir, name) {
  const db = fireproof(name, {
    storeUrls: { base: pathToFileURL(join(dir, "fp")).href },
    keyBag: { url: pathToFileURL(join(dir, "keybag")).href },
  });
  await db.ready();
  return {
    async put(doc) {
      return db.put(doc);
    },
    async bulk(docs) {
      return db.bulk(docs);
    },
    async get(docId) {
      return db.get(docId);
    },
    async update(doc) {
      await db.put(doc);
      return doc;
    },
    /** Fireproof 0.24's `db.query(field, { key })`: a field index, docs included by default. */
    async query(field, key, { limit } = {}) {
      const { rows } = await db.query(
        field,
        limit === undefined ? { key } : { key, limit },
      );
      return rows;
    },
    async compact() {
      await db.compact();
    },
    async close() {
      await db.close();
    },
  };
}
