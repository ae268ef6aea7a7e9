// `npm run bench -- --browser`: the browser workloads in Chromium (bench.page.ts), each
// system on a fresh profile, the tab → tab and browser → Node latencies, and bundle sizes
// (esbuild, minified, gzip -9). Prints Markdown tables; docs/benchmarks.md keeps the
// committed ones.
import { loadavg } from "node:os";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { openLedger } from "../../src/index.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { createSyncServer } from "../../src/server/index.js";
import {
  bundlePages,
  callPage,
  launchChromium,
  openPage,
  servePages,
} from "../../test/browser/harness.js";
import { FP_BULK, FP_GETS, FP_SEQ } from "./caps.js";

const N = Number(process.env.KILN_BENCH_DOCS ?? 10_000);
const GETS = Math.min(N, 2_000);

async function sizeOf(source: string, resolveDir: string): Promise<number> {
  const result = await build({
    stdin: { contents: source, resolveDir, loader: "ts" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    write: false,
    logLevel: "silent",
    define: { global: "globalThis" },
  });
  return gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length;
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

const pages = await servePages(
  await bundlePages({ bench: "bench/browser/bench.page.ts" }),
);
const results: Record<string, Record<string, number>> = {};
const load = [loadavg()];
for (const system of ["bare", "kiln", "pouchdb", "fireproof"]) {
  const chromium = await launchChromium();
  try {
    const page = await openPage(chromium.context, pages.url("bench"));
    process.stderr.write(`browser bench: ${system}…\n`);
    results[system] = await callPage(page, "run", system, N, GETS);
    if (system !== "bare") {
      await page.reload();
      await page.waitForFunction(() => "kiln" in globalThis);
      results[system]!.reopenMs = Math.round(
        await callPage<number>(page, "reopen", system),
      );
    }
  } finally {
    await chromium.close();
  }
}

const SAMPLES = Number(process.env.KILN_BENCH_LATENCY ?? 200);
const WARMUP = 10;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

/** Tab A puts, tab B's live query shows it: the ledger follows its storage. */
async function tabToTab(): Promise<number[]> {
  const chromium = await launchChromium();
  try {
    const a = await openPage(chromium.context, pages.url("bench"));
    const b = await openPage(chromium.context, pages.url("bench"));
    await callPage(a, "latOpen", false);
    await callPage(b, "latOpen", true);
    const out: number[] = [];
    for (let i = 0; i < SAMPLES + WARMUP; i++) {
      const t0 = await callPage<number>(a, "latPut", i);
      const t1 = await callPage<number>(b, "latSeen", i);
      if (i >= WARMUP) out.push(t1 - t0);
    }
    return out;
  } finally {
    await chromium.close();
  }
}

/** The page puts; a Node client connected to the same SyncServer sees it. */
async function browserToNode(): Promise<number[]> {
  const server = createSyncServer({ backend: createMemoryBackend() });
  const { url } = await server.listen({ port: 0 });
  const node = await openLedger("lat-sync", { storage: "memory://" });
  const seenAt = new Map<string, number>();
  const waiters = new Map<string, (t: number) => void>();
  node.subscribe((rows) => {
    const t = performance.timeOrigin + performance.now();
    for (const r of rows) {
      seenAt.set(r.id, t);
      waiters.get(r.id)?.(t);
    }
  });
  const seen = (id: string) =>
    seenAt.has(id)
      ? Promise.resolve(seenAt.get(id)!)
      : new Promise<number>((resolve) => waiters.set(id, resolve));
  const connection = node.connect(url);
  const chromium = await launchChromium();
  try {
    const page = await openPage(chromium.context, pages.url("bench"));
    await callPage(page, "syncOpen", "lat-sync", node.key, url);
    await connection.synced();
    const out: number[] = [];
    for (let i = 0; i < SAMPLES + WARMUP; i++) {
      const t0 = await callPage<number>(page, "latPut", i);
      const t1 = await seen(`lat-${i}`);
      if (i >= WARMUP) out.push(t1 - t0);
    }
    return out;
  } finally {
    await chromium.close();
    await node.close();
    await server.close();
  }
}

process.stderr.write("browser bench: tab → tab latency…\n");
const tabs = await tabToTab();
process.stderr.write("browser bench: browser → Node latency…\n");
const toNode = await browserToNode();
load.push(loadavg());
await pages.close();

const sizes = {
  kiln: await sizeOf(
    `import { openLedger } from "./src/index.browser.ts";
     const l = await openLedger("x"); await l.put({ _id: "a" }); await l.get("a");
     l.connect("ws://127.0.0.1:7070"); await l.query("status", { key: "open" });`,
    ".",
  ),
  pouchdb: await sizeOf(
    `import PouchDB from "pouchdb-browser";
     const db = new PouchDB("x"); await db.put({ _id: "a" }); await db.get("a");`,
    "bench",
  ),
  fireproof: await sizeOf(
    `import { fireproof } from "@fireproof/core";
     const db = fireproof("x"); await db.put({ _id: "a" }); await db.get("a");`,
    "bench",
  ),
};

const k = results.kiln!;
const p = results.pouchdb!;
const f = results.fireproof!;
const b = results.bare!;
const x = (a: number, c: number) => `${(a / c).toFixed(2)}×`;
const ms = (v: number) => `${v.toFixed(1)} ms`;
const avg = (l: number[]) => l.map((v) => v.toFixed(1)).join(" ");
console.log(`Load average before: ${avg(load[0]!)}, after: ${avg(load[1]!)} (1, 5, 15 min).

| workload (${N.toLocaleString("en")} docs of ~200 B) | Kiln (IndexedDB, encrypted) | PouchDB 9 (idb) | Fireproof 0.24 | Kiln / PouchDB | Kiln / Fireproof | bare IndexedDB |
|---|---:|---:|---:|---:|---:|---:|
| sequential put (await each) | ${k.put} docs/s | ${p.put} docs/s | ${f.put} docs/s (${FP_SEQ}) | ${x(k.put!, p.put!)} | ${x(k.put!, f.put!)} | ${b.put} docs/s (Kiln ${x(k.put!, b.put!)}) |
| bulk, 100 docs a batch | ${k.bulk} docs/s | ${p.bulk} docs/s | ${f.bulk} docs/s (${FP_BULK.toLocaleString("en")}) | ${x(k.bulk!, p.bulk!)} | ${x(k.bulk!, f.bulk!)} | |
| get by id, random order (${GETS.toLocaleString("en")}) | ${k.get} ops/s | ${p.get} ops/s | ${f.get} ops/s (${FP_GETS}) | ${x(k.get!, p.get!)} | ${x(k.get!, f.get!)} | |
| reload → open → first get | ${k.reopenMs} ms | ${p.reopenMs} ms | ${f.reopenMs} ms | ${x(k.reopenMs!, p.reopenMs!)} | ${x(k.reopenMs!, f.reopenMs!)} | |
| bundle: open+put+get (+connect+query for Kiln), min+gzip -9 | ${kb(sizes.kiln)} | ${kb(sizes.pouchdb)} | ${kb(sizes.fireproof)} | ${x(sizes.kiln, sizes.pouchdb)} | ${x(sizes.kiln, sizes.fireproof)} | |

| latency (${SAMPLES} samples after ${WARMUP} warm-up) | p50 | p99 | max |
|---|---:|---:|---:|
| put in tab A → live query in tab B | ${ms(pct(tabs, 50))} | ${ms(pct(tabs, 99))} | ${ms(Math.max(...tabs))} |
| put in the page → Node client through a SyncServer (WebSocket) | ${ms(pct(toNode, 50))} | ${ms(pct(toNode, 99))} | ${ms(Math.max(...toNode))} |`);
