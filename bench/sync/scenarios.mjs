// The sync workloads S1-S4, coordinated from run.mjs's process. Each run of a scenario
// starts its own server process and client processes (server.mjs, client.mjs, fanout.mjs)
// and ends them all; only stamps the children take (timing.now()) are subtracted.
//   S1  write on A → B's subscription reports it: latency p50/p99 over `writes` writes
//   S2  B offline while A writes `docs` docs and uploads them; B connects → B has them all
//   S3  A writes `docs` docs offline, connects → the server has them all
//   S4  Kiln only: `clients` clients on `ledgers` ledgers, `rate` writes/s each for
//       `seconds`; every write must reach every other client of its ledger
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { docId } from "../docs.mjs";
import { runFanout } from "./fanout-run.mjs";
import { spawnChild } from "./rpc.mjs";
import { now, rssOf, summarize } from "./timing.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const HOST = "127.0.0.1";
const LEDGER = "orders";

export const SCENARIOS = ["S1", "S2", "S3", "S4", "S5"];
/** Scenarios only Kiln runs. */
export const KILN_ONLY = ["S4", "S5"];

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** One scenario run: its processes, and their cleanup whatever happens. */
class Run {
  constructor(system, opts, onLine) {
    this.system = system;
    this.opts = opts;
    this.onLine = onLine;
    this.children = [];
  }

  spawn(file, args, name) {
    const child = spawnChild(join(HERE, file), args, {
      name,
      onLine: this.onLine,
    });
    this.children.push(child);
    return child;
  }

  async server() {
    const port = await freePort();
    const server = this.spawn(
      "server.mjs",
      [this.system, String(port)],
      `${this.system} server`,
    );
    // rejects, naming the exit code, if the server dies first
    const m = await server.waitForLine(
      /listening on http:\/\/[^\s:]+:(\d+)/,
      60_000,
    );
    server.port = Number(m[1]);
    return server;
  }

  async client(label, key) {
    const client = this.spawn(
      "client.mjs",
      [],
      `${this.system} client ${label}`,
    );
    const opened = await client.call(
      "open",
      {
        system: this.system,
        name: LEDGER,
        host: HOST,
        port: this.port,
        key,
        replica: label,
      },
      this.opts.stepMs,
    );
    client.shareKey = opened.shareKey;
    return client;
  }

  /** What each replica process says of its connection, to explain a failed step. */
  async statuses() {
    const states = await Promise.all(
      this.children.slice(1).map((c) =>
        c.call("status", {}, 2000).then(
          (st) => `${c.name}: ${JSON.stringify(st)}`,
          () => undefined,
        ),
      ),
    );
    return states.filter(Boolean).join("; ");
  }

  async close() {
    // clients first (they may still be talking), then the server
    const [server, ...rest] = this.children;
    await Promise.all(rest.map((c) => c.stop()));
    await server?.stop();
  }
}

/**
 * Run `scenario` for `system`; resolves with the numbers (keys as in sync/table.mjs).
 * `sys` is the system's adapter module (for ackedUpload, minWriteBatch).
 */
export async function runScenario({
  system,
  sys,
  scenario,
  opts,
  onLine,
  log,
}) {
  const run = new Run(system, opts, onLine);
  try {
    const server = await run.server();
    run.port = server.port;
    switch (scenario) {
      case "S1":
        return await s1(run, server, sys, opts, log);
      case "S2":
        return await s2(run, server, sys, opts, log);
      case "S3":
        return await s3(run, server, sys, opts, log);
      case "S4":
        return await s4(run, server, opts, log);
      case "S5":
        return await s2(run, server, sys, opts, log, true);
      default:
        throw new Error(`unknown scenario ${scenario}`);
    }
  } catch (e) {
    const states = await run.statuses();
    if (states && e instanceof Error) e.message += ` [${states}]`;
    throw e;
  } finally {
    await run.close();
  }
}

/** The server holds `n` docs: Kiln's client says so (synced()); for the peers the server counts. */
function serverHas(server, sys, a, n, ms) {
  return sys.ackedUpload
    ? a.call("uploaded", {}, ms)
    : server.call("watch", { name: LEDGER, key: a.shareKey, n }, ms);
}

async function expectCount(client, n, what) {
  const { n: got } = await client.call("count");
  if (got !== n) throw new Error(`${what}: holds ${got} docs, expected ${n}`);
}

async function s1(run, server, sys, { seed, writes, warmup, stepMs }, log) {
  const a = await run.client("A");
  await a.call("connect");
  await a.call("caughtUp", {}, stepMs);
  await serverHas(server, sys, a, 0, stepMs); // the ledger exists on the server
  const b = await run.client("B", a.shareKey);
  await b.call("connect");
  await b.call("caughtUp", {}, stepMs);

  const latencies = [];
  const total = warmup + writes;
  for (let i = 0; i < total; i++) {
    // closed loop: the next write starts once B has seen this one
    const [w, s] = await Promise.all([
      a.call("put", { seed, i }, stepMs),
      b.call("seenId", { id: docId(seed, i) }, stepMs),
    ]);
    if (i >= warmup) latencies.push(s.t - w.t);
    if ((i + 1) % 100 === 0) log?.(`${i + 1}/${total}`);
  }
  await expectCount(b, total, "S1: B");
  const l = summarize(latencies);
  return {
    syncS1P50Ms: l.p50,
    syncS1P99Ms: l.p99,
    syncS1MeanMs: l.mean,
    syncS1MaxMs: l.max,
    count: l.n,
  };
}

function writeBatch(sys, batch) {
  return Math.max(batch, sys.minWriteBatch ?? 1);
}

/**
 * S2, and with `snapshot` S5: A publishes a snapshot once the server has every doc, so the
 * new replica B starts from it (Kiln only: the peers have no such step).
 */
async function s2(
  run,
  server,
  sys,
  { seed, docs, batch, stepMs },
  log,
  snapshot = false,
) {
  const a = await run.client("A");
  await a.call("connect");
  await a.call("caughtUp", {}, stepMs);
  const watch = sys.ackedUpload
    ? undefined
    : server.call(
        "watch",
        { name: LEDGER, key: a.shareKey, n: docs },
        stepMs * 3,
      );
  watch?.catch(() => {}); // awaited below; a failed step must not leave it unhandled
  const b = writeBatch(sys, batch);
  const w = await a.call(
    "putRange",
    { seed, from: 0, to: docs, batch: b },
    stepMs * 3,
  );
  log?.(`A wrote ${docs} docs online in ${(w.ms / 1000).toFixed(1)} s`);
  const t0 = now();
  await (watch ?? serverHas(server, sys, a, docs, stepMs));
  log?.(
    `the server has them (${((now() - t0) / 1000).toFixed(1)} s after the last write)`,
  );

  if (snapshot) {
    const p = await a.call("publishSnapshot", {}, stepMs * 3);
    log?.(`A published a snapshot in ${p.ms.toFixed(0)} ms`);
  }
  const rssServer = rssOf(server.pid);
  const reader = await run.client("B", a.shareKey);
  const c = await reader.call("connect");
  // S5 is timed to B's synced(), as the issue defines it (docs readable by id from then
  // on); the time until its subscription has every doc read is kept beside it.
  const up = snapshot
    ? await reader.call("caughtUp", {}, stepMs * 3)
    : undefined;
  const s = await reader.call("seenCount", { n: docs }, stepMs * 3);
  await expectCount(reader, docs, snapshot ? "S5: B" : "S2: B");
  if (snapshot)
    return {
      syncS5Ms: up.t - c.t,
      syncS5AllReadMs: s.t - c.t,
      count: docs,
      writeBatch: b,
    };
  return {
    syncS2Ms: s.t - c.t,
    syncS2WriteMs: w.ms,
    syncS2ServerRssMiB: rssServer?.rssMiB,
    count: docs,
    writeBatch: b,
  };
}

async function s3(
  run,
  server,
  sys,
  { seed, docs, batch, stepMs, verify },
  log,
) {
  const a = await run.client("A");
  const b = writeBatch(sys, batch);
  const w = await a.call(
    "putRange",
    { seed, from: 0, to: docs, batch: b },
    stepMs * 3,
  );
  log?.(`A wrote ${docs} docs offline in ${(w.ms / 1000).toFixed(1)} s`);
  // the peers' server counts from what it already holds, so the watch may start first
  const watch = sys.ackedUpload
    ? undefined
    : server.call(
        "watch",
        { name: LEDGER, key: a.shareKey, n: docs },
        stepMs * 3,
      );
  watch?.catch(() => {}); // awaited below; a failed step must not leave it unhandled
  const c = await a.call("connect");
  const done = await (watch ?? a.call("uploaded", {}, stepMs * 3));
  const result = {
    syncS3Ms: done.t - c.t,
    syncS3WriteMs: w.ms,
    count: docs,
    writeBatch: b,
  };
  if (verify) {
    // the server really has them: a fresh replica catches up (not timed in S3)
    const reader = await run.client("B", a.shareKey);
    const rc = await reader.call("connect");
    const s = await reader.call("seenCount", { n: docs }, stepMs * 3);
    await expectCount(reader, docs, "S3 check: B");
    result.syncS3CheckMs = s.t - rc.t;
  }
  return result;
}

async function s4(run, server, opts, log) {
  const { seed, fanout, stepMs } = opts;
  const url = `ws://${HOST}:${server.port}`;
  const r = await runFanout({
    spawn: (file, args, name) => run.spawn(file, args, name),
    servers: [server],
    urlsOf: () => [url],
    seed,
    fanout,
    stepMs,
    prefix: "fan",
    log,
  });
  return {
    fanoutP50Ms: r.p50,
    fanoutP99Ms: r.p99,
    fanoutMaxMs: r.max,
    fanoutServerRssMiB: r.serverRssMiB[0],
    fanoutServerPeakMiB: r.serverPeakMiB[0],
    fanoutWrites: r.writes,
    fanoutDeliveries: r.deliveries,
    fanoutExpected: r.expected,
    fanoutMissing: r.missing,
    fanoutForeign: r.foreign,
    fanoutWriterLateMs: r.writerLateMs,
    fanoutSkipped: r.skipped,
    fanoutLoopDelayMaxMs: r.loopDelayMaxMs,
    fanoutLoopDelayP99Ms: r.loopDelayP99Ms,
    fanoutServerCores: r.serverCores[0],
    fanoutClientCores: r.clientCores,
    count: r.writes,
  };
}
