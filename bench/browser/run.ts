// `npm run bench -- --browser`: the browser workloads in Chromium (bench.page.ts), each
// system on a fresh profile, and bundle sizes (esbuild, minified, gzip -9). Prints a
// Markdown table; docs/benchmarks.md keeps the committed one.
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import {
  bundlePages,
  callPage,
  launchChromium,
  openPage,
  servePages,
} from "../../test/browser/harness.js";

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
for (const system of ["bare", "kiln", "pouchdb"]) {
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
};

const k = results.kiln!;
const p = results.pouchdb!;
const b = results.bare!;
const x = (a: number, c: number) => `${(a / c).toFixed(2)}×`;
console.log(`| workload (${N.toLocaleString("en")} docs of ~200 B) | Kiln (IndexedDB, encrypted) | PouchDB 9 (idb) | Kiln / PouchDB | bare IndexedDB |
|---|---:|---:|---:|---:|
| sequential put (await each) | ${k.put} docs/s | ${p.put} docs/s | ${x(k.put!, p.put!)} | ${b.put} docs/s (Kiln ${x(k.put!, b.put!)}) |
| bulk, 100 docs a batch | ${k.bulk} docs/s | ${p.bulk} docs/s | ${x(k.bulk!, p.bulk!)} | |
| get by id, random order (${GETS.toLocaleString("en")}) | ${k.get} ops/s | ${p.get} ops/s | ${x(k.get!, p.get!)} | |
| reload → open → first get | ${k.reopenMs} ms | ${p.reopenMs} ms | ${x(k.reopenMs!, p.reopenMs!)} | |
| bundle: open+put+get (+connect+query for Kiln), min+gzip -9 | ${kb(sizes.kiln)} | ${kb(sizes.pouchdb)} | ${x(sizes.kiln, sizes.pouchdb)} | |`);
