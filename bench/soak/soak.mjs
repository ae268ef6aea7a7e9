#!/usr/bin/env node
// The soak workload (`npm run bench -- --workloads=soak`, issue 11): one `kiln serve` process
// (embedded storage in a temp dir, a secret, scoped tokens) for BENCH_SOAK_SECONDS, with
//   honest clients   writers putting into their own ledgers at a steady rate, and live
//                    subscribers on those ledgers: write → delivery latency, deliveries lost
//   hostile clients  hostile.mjs (non-reading WebSocket, slowloris, large unauthenticated
//                    bodies, a ledger pushed to the MAX_HEADS bound)
// and the server's RSS sampled from /proc/<pid>/status. Prints a Markdown table to stdout
// (and bench/results/soak.md); progress to stderr. Needs the build (dist/).
import { fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { freePort } from "../sync/scenarios.mjs";
import { loadWire } from "./hostile.mjs";

const BENCH = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ROOT = resolve(BENCH, "..");
const DIST = join(ROOT, "dist");
const env = process.env;
const int = (v, d) => (v === undefined || v === "" ? d : Number(v));
const SECONDS = int(env.BENCH_SOAK_SECONDS, 300);
const WRITERS = int(env.BENCH_SOAK_WRITERS, 3);
const READERS = int(env.BENCH_SOAK_READERS, 2); // subscribers per writer's ledger
const RATE = int(env.BENCH_SOAK_RATE, 5); // writes/s per writer
const SAMPLE_S = int(env.BENCH_SOAK_SAMPLE_S, 5);
const DRAIN_S = int(env.BENCH_SOAK_DRAIN_S, 15);
const TARGET_P99_MS = 50;
const WIDE = "soak-wide";
const WARM_S = 10;
// which hostile clients run: all, or some of nonReader,slowloris,bigPosts,wideHeads ("" none)
const HOSTILE = env.BENCH_SOAK_HOSTILE ?? "all";

const log = (m) => process.stderr.write(`[soak] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(
    readFileSync(`/proc/${pid}/status`, "utf8"),
  );
  return m ? Number(m[1]) / 1024 : NaN;
}

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Starts `kiln serve` on a temp dir; resolves once it listens. */
async function startServer(secret, dir) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(ROOT, "bin", "kiln.js"),
      "serve",
      ...["--port", String(port), "--host", "127.0.0.1"],
      ...["--storage", pathToFileURL(dir).href],
    ],
    { env: { ...env, KILN_SECRET: secret }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let errors = "";
  child.stderr.on("data", (d) => (errors = (errors + d).slice(-4000)));
  await new Promise((ok, fail) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (/listening on/.test(out)) ok();
    });
    child.once("exit", (code) =>
      fail(new Error(`kiln serve exited (${code}): ${errors}`)),
    );
  });
  return { child, port, errors: () => errors };
}

/** hostile.mjs in its own process; resolves to its stop() (→ the summary). */
async function startHostile(start) {
  const child = fork(join(BENCH, "soak", "hostile.mjs"), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const next = () => new Promise((r) => child.once("message", r));
  child.send({ start });
  await next();
  return async () => {
    child.send({ stop: true });
    const { summary } = await next();
    for (const k of ["nonReader", "slow", "big", "wide"])
      for (const [f, v] of Object.entries(summary[k]))
        if (Array.isArray(v) && Array.isArray(v[0])) summary[k][f] = new Map(v);
    return summary;
  };
}

async function main() {
  const kiln = await import(pathToFileURL(join(DIST, "index.js")).href);
  const { signToken } = await import(
    pathToFileURL(join(DIST, "server", "index.js")).href
  );
  const secret = randomBytes(24).toString("hex");
  const dir = mkdtempSync(join(os.tmpdir(), "kiln-soak-"));
  const server = await startServer(secret, dir);
  const url = `ws://127.0.0.1:${server.port}`;
  log(
    `kiln serve pid ${server.child.pid} on ${url}, ${SECONDS} s, ${WRITERS} writers x ${READERS} readers at ${RATE}/s`,
  );

  // ---- honest clients
  let started; // performance.now() when the hostile clients and timed writes start
  const written = new Map(); // doc id → performance.now() just before the put
  const latencies = [];
  const lateLatencies = []; // after the first WARM_S seconds (the head set is full by then)
  const writers = [];
  const readers = [];
  for (let w = 0; w < WRITERS; w++) {
    const name = `soak-honest-${w}`;
    const ledger = await kiln.openLedger(name, { storage: "memory://" });
    const token = signToken(secret, { ledgers: [name], write: true });
    const conn = ledger.connect(url, { token });
    writers.push({ name, ledger, conn, acked: [] });
    for (let r = 0; r < READERS; r++) {
      const replica = await kiln.openLedger(name, {
        storage: "memory://",
        key: ledger.key,
      });
      const seen = new Set();
      replica.subscribe((rows) => {
        const t = performance.now();
        for (const { id } of rows) {
          if (seen.has(id)) continue;
          seen.add(id);
          const t0 = written.get(id);
          if (t0 === undefined) continue;
          latencies.push(t - t0);
          if (started !== undefined && t0 - started > WARM_S * 1000)
            lateLatencies.push(t - t0);
        }
      });
      const readToken = signToken(secret, { ledgers: [name], write: false });
      readers.push({
        w,
        seen,
        replica,
        conn: replica.connect(url, { token: readToken }),
      });
    }
  }
  await Promise.all([...writers, ...readers].map((c) => c.conn.synced()));

  // ---- hostile clients, RSS samples, then the steady writes
  const stopHostile = await startHostile({
    dist: DIST,
    port: server.port,
    tokens: { write: signToken(secret, { ledgers: ["*"], write: true }) },
    wideLedger: WIDE,
    ...(HOSTILE === "all" ? {} : { only: HOSTILE.split(",").filter(Boolean) }),
  });
  const t0 = performance.now();
  started = t0;
  const rss = [{ s: 0, mib: rssMiB(server.child.pid) }];
  const sampler = setInterval(() => {
    const s = Math.round((performance.now() - t0) / 1000);
    rss.push({ s, mib: rssMiB(server.child.pid) });
    const n = latencies.length;
    log(`${s} s: server RSS ${rss.at(-1).mib.toFixed(1)} MiB, ${n} deliveries`);
  }, SAMPLE_S * 1000);
  const writeErrors = [];
  await Promise.all(
    writers.map(async (wr, w) => {
      const gap = 1000 / RATE;
      for (let i = 0; performance.now() - t0 < SECONDS * 1000; i++) {
        const due = t0 + i * gap + (w * gap) / WRITERS;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const id = `${wr.name}-${i}`;
        written.set(id, performance.now());
        try {
          await wr.ledger.put({ _id: id, i, w });
          wr.acked.push(id);
        } catch (e) {
          writeErrors.push(String(e?.message ?? e));
        }
      }
    }),
  );
  log("writes done; draining");
  const drainEnd = performance.now() + DRAIN_S * 1000;
  const lostNow = () =>
    readers.reduce(
      (a, r) => a + writers[r.w].acked.filter((id) => !r.seen.has(id)).length,
      0,
    );
  while (lostNow() > 0 && performance.now() < drainEnd) await sleep(200);
  const hostile = await stopHostile();
  clearInterval(sampler);
  rss.push({
    s: Math.round((performance.now() - t0) / 1000),
    mib: rssMiB(server.child.pid),
  });
  const lost = lostNow();
  const expected = readers.reduce((a, r) => a + writers[r.w].acked.length, 0);
  for (const c of [...writers, ...readers]) {
    await c.conn.close();
    await (c.ledger ?? c.replica).close();
  }
  server.child.kill("SIGTERM");
  await new Promise((r) => server.child.once("exit", r));
  rmSync(dir, { recursive: true, force: true });

  latencies.sort((a, b) => a - b);
  lateLatencies.sort((a, b) => a - b);
  const report = render({
    latencies,
    lateLatencies,
    rss,
    lost,
    expected,
    writeErrors,
    hostile,
    load: os.loadavg(),
  });
  mkdirSync(join(BENCH, "results"), { recursive: true });
  writeFileSync(join(BENCH, "results", "soak.md"), report);
  process.stdout.write(report);
  return lost === 0 ? 0 : 1;
}

const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "–");
const tally = (map) =>
  [...map].map(([k, n]) => `${n}× \`${k}\``).join(", ") || "none";

function render({
  latencies,
  lateLatencies,
  rss,
  lost,
  expected,
  writeErrors,
  hostile,
  load,
}) {
  const p50 = quantile(latencies, 0.5);
  const p99 = quantile(latencies, 0.99);
  const mibs = rss.map((r) => r.mib);
  const { nonReader, slow, big, wide } = hostile;
  const held = slow.heldMs.length
    ? `held ${fmt(Math.min(...slow.heldMs) / 1000, 0)}–${fmt(Math.max(...slow.heldMs) / 1000, 0)} s each`
    : "none ended by the server";
  const over = (rss.length > 1 ? rss.slice(1) : rss)
    .map((r) => `${r.s} s ${fmt(r.mib, 0)}`)
    .join(", ");
  return `## Soak (${SECONDS} s, one \`kiln serve\`, embedded storage)

${WRITERS} writers × ${RATE} writes/s into their own ledgers, ${READERS} live subscribers each; hostile clients: ${HOSTILE === "all" ? "all, throughout" : HOSTILE || "none"}. Load average at the end: ${load.map((l) => l.toFixed(1)).join(" / ")} (1/5/15 min).

| measure | result | target | met? |
| --- | --- | --- | --- |
| honest readers: write → live delivery p50 / p99 | ${fmt(p50)} / ${fmt(p99)} ms (n = ${latencies.length}) | p99 ≤ ${TARGET_P99_MS} ms | ${p99 <= TARGET_P99_MS ? "yes" : "no"} |
| … the same after the first ${WARM_S} s | ${fmt(quantile(lateLatencies, 0.5))} / ${fmt(quantile(lateLatencies, 0.99))} ms (n = ${lateLatencies.length}) | p99 ≤ ${TARGET_P99_MS} ms | ${quantile(lateLatencies, 0.99) <= TARGET_P99_MS ? "yes" : "no"} |
| deliveries lost | ${lost} of ${expected}${writeErrors.length ? ` (${writeErrors.length} writes failed: ${writeErrors[0]})` : ""} | 0 | ${lost === 0 && writeErrors.length === 0 ? "yes" : "no"} |
| server RSS min / max / last | ${fmt(Math.min(...mibs))} / ${fmt(Math.max(...mibs))} / ${fmt(mibs.at(-1))} MiB | flat within budgets | see samples |
| server RSS over time (MiB) | ${over} | | |
| non-reading WebSocket (pings, never reads) | ${nonReader.connections} connections, ${nonReader.pingsSent} pings sent; closes: ${tally(nonReader.closes)} (1006: the server ended the TCP connection) | dropped, not buffered | |
| slowloris (headers 1 byte/s) | ${slow.connections} connections, ${held}; answers: ${tally(slow.answers)} | closed by header timeout | |
| unauthenticated 32 MiB POSTs | ${big.posts} posts, client wrote ≤ ${fmt(big.maxSentBytes / 1024, 0)} KiB each before the close (kernel buffers included); answers: ${tally(big.answers)} | refused after ≤ 64 KiB read | |
| wide head set (root commits to one ledger) | ${wide.accepted} heads accepted; refusals: ${tally(wide.refusals)}; closes: ${tally(wide.closes)} | refused past MAX_HEADS (${wireMax}) | ${wide.accepted === wireMax && wide.refusals.size > 0 ? "yes" : "no"} |
`;
}

let wireMax = 4096;
loadWire(DIST)
  .then((w) => {
    wireMax = w.maxHeads;
    return main();
  })
  .then(
    (code) => process.exit(code),
    (e) => {
      log(`failed: ${e?.stack ?? e}`);
      process.exit(1);
    },
  );
