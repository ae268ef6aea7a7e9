// The workloads. Each runs inside its own child process (see worker.mjs) against one
// system adapter `sys` ({ open(dir, name) → { put, bulk, get, compact, close } }) and
// returns plain numbers. Only the commented "timed" sections are on the clock.
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { du } from "./disk.mjs";
import {
  QUERY_STATUS,
  makeDoc,
  makeDocs,
  makeQueryDocs,
  shuffledIndexes,
} from "./docs.mjs";

const LEDGER = "bench";

async function settle() {
  // let pending I/O callbacks and microtasks run, then collect twice (finalisers)
  await new Promise((r) => setImmediate(r));
  if (globalThis.gc) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
    globalThis.gc();
  }
}

function rss() {
  return process.memoryUsage().rss;
}

function check(doc, expected, what) {
  if (
    !doc ||
    doc._id !== expected._id ||
    doc.amount !== expected.amount ||
    doc.createdAt !== expected.createdAt
  ) {
    throw new Error(
      `${what}: wrong document for ${expected._id}: ${JSON.stringify(doc)?.slice(0, 200)}`,
    );
  }
}

/**
 * The measurement is complete before close(): hand it to the parent first (`io.report`),
 * then close. The parent waits only a grace period for the close, and kills the child
 * after it, so a slow or event-loop-starving close() can't eat the bench's time budget;
 * the report shows the close time, or that it did not finish.
 */
async function reportThenClose(db, result, io) {
  await io.report(result);
  const t0 = performance.now();
  await db.close();
  return { ...result, closeMs: performance.now() - t0, closeFinished: true };
}

async function bulkLoad(db, docs, batch) {
  for (let i = 0; i < docs.length; i += batch)
    await db.bulk(docs.slice(i, i + batch));
}

/**
 * Workloads 1, 5 and 6 in one child: sequential puts (timed), RSS growth across them,
 * disk usage right after the writes, then again after compact() and close().
 * (Compaction runs on the same instance: Fireproof 0.24's compact() right after a
 * reopen fails with "missing block" and compacts nothing.)
 */
export async function write(sys, { dir, seed, docs: n }) {
  const count = Math.min(n, sys.seqPutCap ?? Infinity);
  const docs = makeDocs(seed, count); // generated before the RSS baseline
  await settle();
  const rssBefore = rss();

  const db = await sys.open(dir, LEDGER);
  // timed: sequential puts, each awaited
  const t0 = performance.now();
  for (const doc of docs) await db.put(doc);
  const ms = performance.now() - t0;

  await settle();
  const rssAfter = rss();
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const before = await du(dir);

  const tc = performance.now();
  await db.compact();
  const compactMs = performance.now() - tc;
  check(
    await db.get(docs[count >> 1]._id),
    docs[count >> 1],
    "get after compact",
  );
  const tClose = performance.now();
  await db.close(); // must finish: disk usage is measured after it
  const closeMs = performance.now() - tClose;
  const after = await du(dir);

  return {
    count,
    seqPut: (count / ms) * 1000,
    seqPutMs: ms,
    rssGrowthMiB: (rssAfter - rssBefore) / 2 ** 20,
    rssBeforeMiB: rssBefore / 2 ** 20,
    peakRssGrowthMiB: (peakRss - rssBefore) / 2 ** 20,
    diskBefore: before.allocated / count,
    diskAfter: after.allocated / count,
    diskBeforeApparent: before.apparent / count,
    diskAfterApparent: after.apparent / count,
    filesBefore: before.files,
    filesAfter: after.files,
    compactMs,
    closeMs,
    closeFinished: true,
  };
}

/** Workload 2: bulk writes, `batch` docs per call. */
export async function bulk(sys, { dir, seed, docs: n, batch }, io) {
  const docs = makeDocs(seed, n);
  const db = await sys.open(dir, LEDGER);
  // timed: all batches
  const t0 = performance.now();
  await bulkLoad(db, docs, batch);
  const ms = performance.now() - t0;
  return reportThenClose(
    db,
    { count: n, bulk: (n / ms) * 1000, bulkMs: ms },
    io,
  );
}

/**
 * Workload 3: load with bulk (untimed), then get every doc once in a seeded random order
 * (for a system with `getCap`, only the first getCap ids of that order).
 */
export async function get(sys, { dir, seed, docs: n, batch }) {
  const docs = makeDocs(seed, n);
  const db = await sys.open(dir, LEDGER);
  await bulkLoad(db, docs, batch);
  const order = shuffledIndexes(seed, n).slice(
    0,
    Math.min(n, sys.getCap ?? Infinity),
  );
  // timed: the gets
  const t0 = performance.now();
  for (const i of order) check(await db.get(docs[i]._id), docs[i], "get");
  const ms = performance.now() - t0;
  const tClose = performance.now();
  await db.close(); // must finish: workload 4 reopens this store
  return {
    count: order.length,
    get: (order.length / ms) * 1000,
    getMs: ms,
    closeMs: performance.now() - tClose,
    closeFinished: true,
  };
}

/**
 * Workload 4, step 1 (untimed, its own child), when workload 3 has not left a store to
 * reopen: build a store of n docs with bulk, exactly as workload 3 does, and close it.
 */
export async function reopenPrepare(sys, { dir, seed, docs: n, batch }) {
  const db = await sys.open(dir, LEDGER);
  await bulkLoad(db, makeDocs(seed, n), batch);
  const t0 = performance.now();
  await db.close(); // must finish: the next child reopens this store
  return { count: n, closeMs: performance.now() - t0, closeFinished: true };
}

/** Workload 4, step 2 (a fresh child): time open + the first get of a random doc. */
export async function reopen(sys, { dir, seed, docs: n }, io) {
  const i = shuffledIndexes(seed, n)[0];
  const expected = makeDoc(seed, i);
  // timed: open + first get
  const t0 = performance.now();
  const db = await sys.open(dir, LEDGER);
  const openMs = performance.now() - t0;
  let doc;
  try {
    doc = await db.get(expected._id);
  } catch (e) {
    throw new Error(
      `open took ${openMs.toFixed(0)} ms, then the first get(${expected._id}) failed: ${e instanceof Error ? e.message : e}`,
    );
  }
  const ms = performance.now() - t0;
  check(doc, expected, "first get after reopen");
  return reportThenClose(db, { count: n, reopenMs: ms, openMs }, io);
}

/**
 * Workload 7: pre-fill `size` docs with bulk (untimed, `prefillBatch` a commit), then time
 * `puts` sequential puts of new docs. If cost per write is O(log n), the rate barely drops
 * from a small ledger to a large one. Every size first runs the same warm-up (`warm`
 * sequential puts into a scratch ledger), so a small ledger is not
 * also paying for a cold JIT while a large one was warmed by its long pre-fill.
 */
export async function scale(
  sys,
  { dir, seed, size, puts, prefillBatch, warm = 1000 },
  io,
) {
  const count = Math.min(puts, sys.seqPutCap ?? Infinity);
  const scratch = join(dir, "warm-up");
  const w = await sys.open(scratch, LEDGER);
  for (const doc of makeDocs(seed ^ 0x5a5a, Math.min(warm, count)))
    await w.put(doc);
  await w.close(); // left on disk (the run's directory is deleted afterwards): some close() returns before its files settle

  const db = await sys.open(dir, LEDGER);
  for (let i = 0; i < size; i += prefillBatch)
    await db.bulk(makeDocs(seed, Math.min(size, i + prefillBatch), i));
  const fresh = makeDocs(seed, size + count, size);
  await settle();
  // timed: sequential puts into a ledger that already holds `size` docs
  const t0 = performance.now();
  for (const doc of fresh) await db.put(doc);
  const ms = performance.now() - t0;
  check(await db.get(fresh[0]._id), fresh[0], "get after scale puts");
  return reportThenClose(
    db,
    { count, size, scalePut: (count / ms) * 1000, scaleMs: ms },
    io,
  );
}

/**
 * Check a query's rows against the ids that must match: same count, every row one of
 * them (no duplicates) with its doc attached and carrying the queried status.
 */
function checkRows(rows, expected, what) {
  if (!Array.isArray(rows))
    throw new Error(`${what}: no rows array: ${String(rows).slice(0, 100)}`);
  if (rows.length !== expected.size)
    throw new Error(
      `${what}: ${rows.length} rows, expected ${expected.size} (status = ${JSON.stringify(QUERY_STATUS)})`,
    );
  const seen = new Set();
  for (const row of rows) {
    if (!expected.has(row.id) || seen.has(row.id))
      throw new Error(`${what}: unexpected or repeated row ${row.id}`);
    seen.add(row.id);
    if (row.doc?._id !== row.id || row.doc.status !== QUERY_STATUS)
      throw new Error(
        `${what}: row ${row.id} has doc ${JSON.stringify(row.doc)?.slice(0, 120)}`,
      );
  }
}

/**
 * Workloads Q1-Q3 in one child, on `n` query docs (about half with status "open"), bulk
 * loaded untimed:
 * Q1 the first query of the `status` field index, index build included;
 * Q2 the same query `repeats` more times (median);
 * Q3 `cycles` × (update one doc's status, query again): even cycles close an "open" doc,
 *    odd ones reopen it, so the index must drop and re-add a row; ms per cycle.
 * Every result is checked against the generator (row count, ids, docs).
 */
export async function query(
  sys,
  { dir, seed, docs: n, batch, repeats, cycles },
  io,
) {
  const docs = makeQueryDocs(seed, n);
  const expected = new Set(
    docs.filter((d) => d.status === QUERY_STATUS).map((d) => d._id),
  );
  const db = await sys.open(dir, LEDGER);
  await bulkLoad(db, docs, batch);
  await settle();

  // timed: the first query, index creation and build included
  const t0 = performance.now();
  let rows = await db.query("status", QUERY_STATUS);
  const firstMs = performance.now() - t0;
  checkRows(rows, expected, "first query");

  const times = [];
  const reps = Math.min(repeats, sys.queryRepeatCap ?? Infinity);
  for (let r = 0; r < reps; r++) {
    // timed: one repeat of the same query
    const t = performance.now();
    rows = await db.query("status", QUERY_STATUS);
    times.push(performance.now() - t);
    checkRows(rows, expected, `repeat query ${r + 1}`);
  }

  // the docs to toggle: "open" ones in a seeded order, taken from the last result (so a
  // PouchDB doc carries its _rev)
  const byId = new Map(rows.map((row) => [row.id, row.doc]));
  const targets = shuffledIndexes(seed ^ 0x0c1c1e, n)
    .map((i) => docs[i]._id)
    .filter((id) => expected.has(id));
  const count = Math.min(cycles, sys.queryCycleCap ?? Infinity);
  let cycleMs = 0;
  for (let c = 0; c < count; c++) {
    const id = targets[c >> 1];
    const closing = c % 2 === 0;
    const next = {
      ...byId.get(id),
      status: closing ? "closed" : QUERY_STATUS,
    };
    // timed: update one doc's status, then query again
    const t = performance.now();
    const stored = await db.update(next);
    rows = await db.query("status", QUERY_STATUS);
    cycleMs += performance.now() - t;
    byId.set(id, stored);
    if (closing) expected.delete(id);
    else expected.add(id);
    checkRows(rows, expected, `query after update ${c + 1}`);
  }

  return reportThenClose(
    db,
    {
      rows: rows.length,
      queryFirstMs: firstMs,
      queryRepeatMs: median(times),
      queryRepeatMinMs: Math.min(...times),
      repeats: times.length,
      cycles: count,
      queryCycleMs: count ? cycleMs / count : undefined,
    },
    io,
  );
}

/**
 * Workload Q4: pre-fill `size` query docs with bulk (untimed, `prefillBatch` a commit), build
 * the status index with a first `limit` query (untimed, reported), then time `repeats`
 * queries of status "open" with that limit (median). Each result must be `limit` distinct
 * "open" docs, the same every time.
 */
export async function queryLimit(
  sys,
  { dir, seed, size, prefillBatch, limit, repeats },
  io,
) {
  const db = await sys.open(dir, LEDGER);
  const open = new Set();
  for (let i = 0; i < size; i += prefillBatch) {
    const docs = makeQueryDocs(seed, Math.min(size, i + prefillBatch), i);
    for (const d of docs) if (d.status === QUERY_STATUS) open.add(d._id);
    await db.bulk(docs);
  }
  await settle();
  const tb = performance.now();
  const first = await db.query("status", QUERY_STATUS, { limit });
  const buildMs = performance.now() - tb;
  const want = Math.min(limit, open.size);
  const check = (rows, what) => {
    const ids = new Set(rows.map((r) => r.id));
    if (
      rows.length !== want ||
      ids.size !== want ||
      rows.some(
        (r) =>
          !open.has(r.id) ||
          r.doc?._id !== r.id ||
          r.doc.status !== QUERY_STATUS,
      )
    )
      throw new Error(
        `${what}: expected ${want} distinct "${QUERY_STATUS}" docs, got ${JSON.stringify(rows.map((r) => r.id)).slice(0, 200)}`,
      );
  };
  check(first, "first limit query");
  const firstIds = first.map((r) => r.id).join();
  const times = [];
  for (let r = 0; r < repeats; r++) {
    // timed: one limit query on the built index
    const t = performance.now();
    const rows = await db.query("status", QUERY_STATUS, { limit });
    times.push(performance.now() - t);
    check(rows, `limit query ${r + 1}`);
    if (rows.map((x) => x.id).join() !== firstIds)
      throw new Error(`limit query ${r + 1}: different rows than the first`);
  }
  return reportThenClose(
    db,
    {
      size,
      limit,
      matching: open.size,
      queryLimitBuildMs: buildMs,
      queryLimitMs: median(times),
      queryLimitMinMs: Math.min(...times),
      repeats: times.length,
    },
    io,
  );
}

function median(xs) {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length === 0
    ? undefined
    : v.length % 2
      ? v[m]
      : (v[m - 1] + v[m]) / 2;
}

export const workloads = {
  write,
  bulk,
  get,
  reopenPrepare,
  reopen,
  scale,
  query,
  queryLimit,
};
