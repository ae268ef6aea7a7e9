// Browser workloads in Chromium, one system per page load: Kiln on IndexedDB (encrypted),
// PouchDB's IndexedDB adapter, Fireproof's browser build, and a bare loop of one IndexedDB
// transaction per put (the physical limit of sequential puts). Same docs (~200 B) for every
// system. Also the two latencies: a put in one tab seen by a live query in another, and a
// put in the page seen by a Node client through a SyncServer (timed on the shared wall
// clock, performance.timeOrigin + now()).
import { fireproof } from "@fireproof/core";
import PouchDB from "pouchdb-browser";
import { openLedger } from "../../src/index.browser.js";
import type { Ledger } from "../../src/index.browser.js";
import { FP_BULK, FP_GETS, FP_SEQ } from "./caps.js";

interface Doc {
  _id: string;
  [key: string]: unknown;
}

function makeDocs(n: number): Doc[] {
  return Array.from({ length: n }, (_, i) => ({
    _id: `doc-${String(i).padStart(6, "0")}`,
    customer: `customer-${i % 97}`,
    status: i % 3 === 0 ? "open" : "done",
    amount: (i * 7919) % 10_000,
    note: "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore".slice(
      0,
      60 + (i % 40),
    ),
    tags: ["a", "b", "c"].slice(0, 1 + (i % 3)),
  }));
}

/** A fixed shuffle, so every system reads in the same random order. */
function order(n: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  let seed = 12345;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);

async function kiln(n: number, getN: number) {
  const docs = makeDocs(n);
  const seq = await openLedger("seq", { storage: "indexeddb://bench-kiln" });
  let t = performance.now();
  for (const d of docs) await seq.put(d);
  const put = rate(n, performance.now() - t);
  await seq.close();
  const bulkLedger = await openLedger("bulk", {
    storage: "indexeddb://bench-kiln",
  });
  t = performance.now();
  for (let i = 0; i < n; i += 100)
    await bulkLedger.bulk(docs.slice(i, i + 100));
  const bulk = rate(n, performance.now() - t);
  const ids = order(n)
    .slice(0, getN)
    .map((i) => docs[i]!._id);
  t = performance.now();
  for (const id of ids) await bulkLedger.get(id);
  const get = rate(getN, performance.now() - t);
  // Left open: a page is reloaded with its ledger open (it checkpoints when hidden).
  return { put, bulk, get };
}

async function pouch(n: number, getN: number) {
  const docs = makeDocs(n);
  const seq = new PouchDB("bench-pouch-seq");
  let t = performance.now();
  for (const d of docs) await seq.put({ ...d });
  const put = rate(n, performance.now() - t);
  await seq.close();
  const db = new PouchDB("bench-pouch-bulk");
  t = performance.now();
  for (let i = 0; i < n; i += 100)
    await db.bulkDocs(docs.slice(i, i + 100).map((d) => ({ ...d })));
  const bulk = rate(n, performance.now() - t);
  const ids = order(n)
    .slice(0, getN)
    .map((i) => docs[i]!._id);
  t = performance.now();
  for (const id of ids) await db.get(id);
  const get = rate(getN, performance.now() - t);
  await db.close();
  return { put, bulk, get };
}

async function fp(n: number) {
  const docs = makeDocs(n);
  const seq = fireproof("bench-fp-seq");
  let t = performance.now();
  for (const d of docs.slice(0, FP_SEQ)) await seq.put({ ...d });
  const put = rate(FP_SEQ, performance.now() - t);
  await seq.close();
  const db = fireproof("bench-fp-bulk");
  const bulkN = Math.min(n, FP_BULK);
  t = performance.now();
  for (let i = 0; i < bulkN; i += 100)
    await db.bulk(docs.slice(i, i + 100).map((d) => ({ ...d })));
  const bulk = rate(bulkN, performance.now() - t);
  const ids = order(bulkN)
    .slice(0, FP_GETS)
    .map((i) => docs[i]!._id);
  t = performance.now();
  for (const id of ids) await db.get(id);
  const get = rate(ids.length, performance.now() - t);
  await db.close();
  return { put, bulk, get };
}

const now = () => performance.timeOrigin + performance.now();

let lat: Ledger | undefined;
const seen = new Map<string, number>();
const seenWaiters = new Map<string, (t: number) => void>();

/** Opens the latency ledger; with `watch`, records when a live query first shows each doc. */
async function latOpen(watch: boolean, storage = "indexeddb://bench-lat") {
  lat ??= await openLedger("lat", { storage });
  if (watch)
    lat.live("status", { key: "open" }, ({ rows }) => {
      const t = now();
      for (const r of rows)
        if (!seen.has(r.id)) {
          seen.set(r.id, t);
          seenWaiters.get(r.id)?.(t);
        }
    });
}

async function latPut(i: number): Promise<number> {
  const t0 = now();
  await lat!.put({ _id: `lat-${i}`, status: "open", pad: "x".repeat(150) });
  return t0;
}

function latSeen(i: number): Promise<number> {
  const id = `lat-${i}`;
  const t = seen.get(id);
  if (t !== undefined) return Promise.resolve(t);
  return new Promise((resolve) => seenWaiters.set(id, resolve));
}

/** Opens `name` with `key` and connects it to `url`; resolves once live. */
async function syncOpen(name: string, key: string, url: string) {
  lat = await openLedger(name, { key, storage: "indexeddb://bench-sync" });
  const c = lat.connect(url);
  if (c.status.kind === "live") return;
  await new Promise<void>((resolve) => {
    const stop = c.on("status", (s) => {
      if (s.kind === "live") {
        stop();
        resolve();
      }
    });
  });
}

async function bare(n: number) {
  const docs = makeDocs(n);
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const open = indexedDB.open("bench-bare", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("docs");
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const t = performance.now();
  for (const d of docs)
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction("docs", "readwrite", { durability: "strict" });
      tx.objectStore("docs").put(d, d._id);
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error);
    });
  const put = rate(n, performance.now() - t);
  db.close();
  return { put };
}

/** Reopen: from a fresh page load to the first get resolved. */
async function reopen(system: string, startedAt: number) {
  if (system === "kiln") {
    const l = await openLedger("bulk", { storage: "indexeddb://bench-kiln" });
    await l.get("doc-000042");
    const ms = performance.now() - startedAt;
    await l.close();
    return ms;
  }
  if (system === "fireproof") {
    const db = fireproof("bench-fp-bulk");
    await db.get("doc-000042");
    const ms = performance.now() - startedAt;
    await db.close();
    return ms;
  }
  const db = new PouchDB("bench-pouch-bulk");
  await db.get("doc-000042");
  const ms = performance.now() - startedAt;
  await db.close();
  return ms;
}

Object.assign(globalThis, {
  kiln: {
    run: (system: string, n: number, getN: number) =>
      system === "kiln"
        ? kiln(n, getN)
        : system === "pouchdb"
          ? pouch(n, getN)
          : system === "fireproof"
            ? fp(n)
            : bare(n),
    latOpen,
    latPut,
    latSeen,
    syncOpen,
    reopen: (system: string) => reopen(system, 0),
  },
});
