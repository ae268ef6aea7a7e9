// The workloads. Each runs inside its own child process (see worker.mjs) against one
// system adapter `sys` ({ open(dir, name) → { put, bulk, get, compact, close } }) and
// returns plain numbers. Only the commented "timed" sections are on the clock.
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { du } from "./disk.mjs";
import { makeDoc, makeDocs, shuffledIndexes } from "./docs.mjs";

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

export const workloads = { write, bulk, get, reopenPrepare, reopen, scale };
