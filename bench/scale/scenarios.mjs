// The scale-out workload (`--workloads=scale`, Kiln only): several `kiln serve` processes
// (sync/server.mjs, the same `main(["serve", …])` call the sync workloads use) over one
// fresh Postgres schema, dropped after. Coordinated from run.mjs's process; every phase
// starts its own server and client processes and ends them.
//   ref  bare write transactions/s on Postgres, with and without NOTIFY (the ceiling)
//   P1   head updates/s accepted by ONE server process, then by THREE (ABBA rounds), many
//        ledgers, one client per ledger pushing single-doc commits closed-loop (next put when
//        the last was acknowledged); counted by Postgres (sum of ledgers.version) in a window
//   P2   fan-out latency: a write by a client on process 1 → a subscriber on process 3
//   P3   many WebSocket clients over the three processes, each writing on a schedule;
//        every write must reach every other client of its ledger (sync/fanout-run.mjs);
//        lighter configurations too when the full one is short of client CPU
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { docId } from "../docs.mjs";
import { runFanout } from "../sync/fanout-run.mjs";
import { spawnChild } from "../sync/rpc.mjs";
import { freePort } from "../sync/scenarios.mjs";
import { cpuOf, now, summarize } from "../sync/timing.mjs";
import {
  connectAdmin,
  dropSchema,
  freshSchema,
  headUpdates,
  machineCpu,
  notifyCeiling,
  postgresCpu,
  shownUrl,
  storageUrl,
} from "./postgres.mjs";

const SYNC = join(dirname(fileURLToPath(import.meta.url)), "..", "sync");
const HOST = "127.0.0.1";
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** One phase's processes, all ended by close() whatever happens. */
class Phase {
  constructor(onLine, storage) {
    this.onLine = onLine;
    this.storage = storage;
    this.servers = [];
    this.clients = [];
  }

  spawn(file, args, name) {
    const child = spawnChild(join(SYNC, file), args, {
      name,
      onLine: this.onLine,
    });
    this.clients.push(child);
    return child;
  }

  /** Starts `n` kiln serve processes on the shared storage; resolves when all listen. */
  async startServers(n) {
    const started = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const port = await freePort();
        const server = spawnChild(
          join(SYNC, "server.mjs"),
          ["kiln", String(port), this.storage],
          { name: `kiln serve ${i + 1}`, onLine: this.onLine },
        );
        this.servers.push(server);
        const m = await server.waitForLine(
          /listening on http:\/\/[^\s:]+:(\d+)/,
          60_000,
        );
        server.port = Number(m[1]);
        server.url = `ws://${HOST}:${server.port}`;
        return server;
      }),
    );
    return started;
  }

  async close() {
    await Promise.all(this.clients.map((c) => c.stop()));
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}

/** Cumulative CPU seconds of the phase's processes, Postgres and the machine. */
function cpuSnapshot(servers, clients) {
  return {
    servers: servers.reduce((a, s) => a + (cpuOf(s.pid) ?? NaN), 0),
    clients: clients.reduce((a, c) => a + (cpuOf(c.pid) ?? NaN), 0),
    postgres: postgresCpu(),
    machine: machineCpu(),
  };
}

function coresBetween(a, b, seconds) {
  return Object.fromEntries(
    Object.keys(a).map((k) => [k, (b[k] - a[k]) / seconds]),
  );
}

/**
 * P1 with `nServers` processes: `ledgers` clients (one per ledger) in `procs` processes;
 * client c on ledger c and on server c mod nServers. Counts head updates in Postgres over
 * [windowFrom, stopAt] (after `warmupS`).
 */
async function headRate(
  phase,
  sql,
  schema,
  nServers,
  round,
  { ledgers, procs, seconds, warmupS },
  { seed, stepMs },
  log,
) {
  const servers = await phase.startServers(nServers);
  const names = Array.from(
    { length: ledgers },
    (_, l) => `p1-${round}-${nServers}-${l}`,
  );
  const nProcs = Math.max(1, Math.min(procs, ledgers));
  const hosts = Array.from({ length: nProcs }, (_, p) =>
    phase.spawn("fanout.mjs", [], `kiln writers ${p}`),
  );
  const { keys } = await hosts[0].call("makeKeys", { names }, stepMs);
  await Promise.all(
    hosts.map((h, p) => {
      const assigned = [];
      for (let c = p; c < ledgers; c += nProcs)
        assigned.push({
          c,
          ledger: names[c],
          key: keys[names[c]],
          urls: [servers[c % nServers].url],
        });
      return h.call("open", { assigned }, stepMs);
    }),
  );
  await Promise.all(hosts.map((h) => h.call("connect", {}, stepMs)));
  log?.(
    `P1: ${ledgers} clients on ${ledgers} ledgers over ${nProcs} processes → ${nServers} server process(es); ${warmupS} s warm-up, ${seconds} s timed`,
  );

  const startAt = now() + 300;
  const windowFrom = startAt + warmupS * 1000;
  const stopAt = windowFrom + seconds * 1000;
  const hammered = Promise.all(
    hosts.map((h) =>
      h.call(
        "hammer",
        { startAt, windowFrom, stopAt, seed },
        (warmupS + seconds) * 1000 + stepMs,
      ),
    ),
  );
  hammered.catch(() => {}); // awaited below
  // Postgres's count at both ends of the window, stamped at the query's midpoint
  const mark = async () => {
    const t = now();
    const n = await headUpdates(sql, schema);
    return { n, t: (t + now()) / 2, cpu: cpuSnapshot(servers, hosts) };
  };
  await sleep(windowFrom - now());
  const a = await mark();
  await sleep(stopAt - now());
  const b = await mark();
  const ran = await hammered;
  const windowS = (b.t - a.t) / 1000;
  const acks = ran.reduce((x, r) => x + r.inWindow, 0);
  const lost = ran.reduce((x, r) => x + r.lost, 0);
  if (lost)
    throw new Error(
      `P1: ${lost} connection(s) closed while waiting for an acknowledgement`,
    );
  const cores = coresBetween(a.cpu, b.cpu, windowS);
  return {
    rate: (b.n - a.n) / windowS,
    clientRate: acks / seconds,
    // p50/p99 put → acknowledgement, the worst client process's
    ackP50Ms: Math.max(...ran.map((r) => r.p50 ?? 0)),
    ackP99Ms: Math.max(...ran.map((r) => r.p99 ?? 0)),
    serverCores: cores.servers,
    clientCores: cores.clients,
    postgresCores: cores.postgres,
    machineCores: cores.machine,
  };
}

/** P2: closed loop, a write on server 1 → the subscriber on server 3 reports it. */
async function fanoutLatency(phase, { writes, warmup }, { seed, stepMs }, log) {
  // server 2 runs too: connected to Postgres, hearing every notice, no clients
  const [s1, , s3] = await phase.startServers(3);
  const client = async (label, server, key) => {
    const c = phase.spawn("client.mjs", [], `kiln client ${label}`);
    const opened = await c.call(
      "open",
      {
        system: "kiln",
        name: "p2",
        host: HOST,
        port: server.port,
        key,
        replica: label,
      },
      stepMs,
    );
    c.shareKey = opened.shareKey;
    await c.call("connect");
    await c.call("caughtUp", {}, stepMs);
    return c;
  };
  const a = await client("W (server 1)", s1);
  await a.call("uploaded", {}, stepMs); // the ledger exists on the servers
  const b = await client("S (server 3)", s3, a.shareKey);
  const latencies = [];
  const total = warmup + writes;
  for (let i = 0; i < total; i++) {
    const [w, s] = await Promise.all([
      a.call("put", { seed, i }, stepMs),
      b.call("seenId", { id: docId(seed, i) }, stepMs),
    ]);
    if (i >= warmup) latencies.push(s.t - w.t);
    if ((i + 1) % 100 === 0) log?.(`P2: ${i + 1}/${total}`);
  }
  const { n } = await b.call("count");
  if (n !== total)
    throw new Error(`P2: the subscriber holds ${n} docs, expected ${total}`);
  const l = summarize(latencies);
  return { p50: l.p50, p99: l.p99, max: l.max, mean: l.mean, n: l.n };
}

/** P3: `fanout.clients` clients over the three servers (sync/fanout-run.mjs). */
async function manyClients(phase, fanout, { seed, stepMs }, prefix, log) {
  const servers = await phase.startServers(3);
  const urls = servers.map((s) => s.url);
  const r = await runFanout({
    spawn: (file, args, name) => phase.spawn(file, args, name),
    servers,
    // client c starts on server c mod 3; the other two are its failover
    urlsOf: (c) => [0, 1, 2].map((k) => urls[(c + k) % 3]),
    seed,
    fanout,
    stepMs,
    prefix,
    cpuProbes: { postgres: postgresCpu, machine: machineCpu },
    log: (m) => log?.(`${prefix}: ${m}`),
  });
  return r;
}

/** Runs `fn` in a fresh phase; a failed phase is reported, the next ones still run. */
async function inPhase(name, storage, onLine, errors, log, fn) {
  const phase = new Phase(onLine, storage);
  try {
    return await fn(phase);
  } catch (e) {
    errors[name] = e instanceof Error ? e.message : String(e);
    log?.(`${name} failed: ${errors[name]}`);
    return undefined;
  } finally {
    await phase.close();
  }
}

/** Flat raw values (numbers only) for the report, keyed as in scale/table.mjs. */
function flatten(prefix, r, keys) {
  const out = {};
  for (const [k, name] of Object.entries(keys))
    if (typeof r?.[k] === "number") out[`${prefix}${name}`] = r[k];
  return out;
}

const P3_KEYS = {
  p50: "P50Ms",
  p99: "P99Ms",
  max: "MaxMs",
  writes: "Writes",
  deliveries: "Deliveries",
  expected: "Expected",
  missing: "Missing",
  foreign: "Foreign",
  writerLateMs: "WriterLateMs",
  skipped: "Skipped",
  loopDelayMaxMs: "LoopDelayMaxMs",
  clientCores: "ClientCores",
  setupMs: "SetupMs",
};

function p3Values(prefix, r) {
  if (!r) return {};
  const out = flatten(prefix, r, P3_KEYS);
  r.serverRssMiB.forEach((v, i) => {
    if (v !== undefined) out[`${prefix}Server${i + 1}RssMiB`] = v;
  });
  r.serverCores.forEach((v, i) => (out[`${prefix}Server${i + 1}Cores`] = v));
  out[`${prefix}ServerCores`] = r.serverCores.reduce((a, x) => a + x, 0);
  out[`${prefix}PostgresCores`] = r.cores.postgres;
  out[`${prefix}MachineCores`] = r.cores.machine;
  return out;
}

/** Did the clients fall behind their schedule (short of CPU)? */
export function clientBound(r) {
  return r !== undefined && (r.writerLateMs > 1000 || r.skipped > 0);
}

/**
 * The whole workload. Resolves with { values, errors, unreachable?, light?, schema }:
 * `values` are numbers, or lists of one per run for P1 (keys in scale/table.mjs); `errors`
 * per phase; `unreachable` when Postgres could not be reached (nothing else ran); `light`
 * the lighter P3 configurations that ran.
 */
export async function runScale({ opts, onLine, log }) {
  const errors = {};
  let sql;
  try {
    sql = await connectAdmin(opts.pg);
  } catch (e) {
    return { values: {}, errors, unreachable: e.message };
  }
  const values = {};
  const schema = await freshSchema(sql);
  const refSchema = `${schema}_ref`;
  const storage = storageUrl(opts.pg, schema);
  log?.(`schema ${schema} on ${shownUrl(opts.pg)}`);
  const common = { seed: opts.seed, stepMs: opts.stepMs };
  let light;
  const wants = (phase) => !opts.phases || opts.phases.includes(phase);
  try {
    if (opts.refS > 0 && wants("P1")) {
      try {
        await sql`create schema ${sql(refSchema)}`;
        const ref = await notifyCeiling(sql, refSchema, {
          seconds: opts.refS,
          connections: 16,
        });
        values.scaleRefNotifyRate = ref.withNotify;
        values.scaleRefPlainRate = ref.withoutNotify;
        log?.(
          `ref: ${ref.withNotify.toFixed(0)} write transactions/s with NOTIFY, ${ref.withoutNotify.toFixed(0)}/s without (16 connections)`,
        );
      } catch (e) {
        errors.ref = e.message;
      }
    }
    // ABBA order over `rounds` (1, 3, 3, 1, …), so drift on a shared machine (other work
    // coming and going) weighs on both configurations alike; each run's values are kept
    const order = [];
    for (let k = 0; k < (wants("P1") ? opts.p1.rounds : 0); k++)
      order.push(...(k % 2 ? [3, 1] : [1, 3]));
    const label = { 1: "One", 3: "Three" };
    for (const [k, n] of order.entries()) {
      const r = await inPhase(
        `P1 (${n} process${n > 1 ? "es" : ""}, run ${k + 1})`,
        storage,
        onLine,
        errors,
        log,
        (ph) => headRate(ph, sql, schema, n, k, opts.p1, common, log),
      );
      if (!r) continue;
      const flat = flatten(`scaleP1${label[n]}`, r, {
        rate: "Rate",
        clientRate: "ClientRate",
        ackP50Ms: "AckP50Ms",
        ackP99Ms: "AckP99Ms",
        serverCores: "ServerCores",
        clientCores: "ClientCores",
        postgresCores: "PostgresCores",
        machineCores: "MachineCores",
      });
      for (const [key, x] of Object.entries(flat)) (values[key] ??= []).push(x);
      log?.(
        `P1, ${n} process(es): ${r.rate.toFixed(0)} head updates/s accepted (clients counted ${r.clientRate.toFixed(0)} acks/s); cores: servers ${r.serverCores.toFixed(2)}, clients ${r.clientCores.toFixed(2)}, Postgres ${r.postgresCores.toFixed(2)}, machine ${r.machineCores.toFixed(2)}`,
      );
    }
    const mean = (xs) => xs && xs.reduce((a, x) => a + x, 0) / xs.length;
    if (values.scaleP1OneRate && values.scaleP1ThreeRate)
      values.scaleP1Ratio =
        mean(values.scaleP1ThreeRate) / mean(values.scaleP1OneRate);

    const p2 = !wants("P2")
      ? undefined
      : await inPhase("P2", storage, onLine, errors, log, (ph) =>
          fanoutLatency(ph, opts.p2, common, log),
        );
    if (p2) {
      Object.assign(
        values,
        flatten("scaleP2", p2, {
          p50: "P50Ms",
          p99: "P99Ms",
          max: "MaxMs",
          mean: "MeanMs",
          n: "Count",
        }),
      );
      log?.(
        `P2: p50 ${p2.p50.toFixed(2)} ms, p99 ${p2.p99.toFixed(2)} ms (n=${p2.n})`,
      );
    }

    const p3 = !wants("P3")
      ? undefined
      : await inPhase("P3", storage, onLine, errors, log, (ph) =>
          manyClients(ph, opts.p3, common, "p3", log),
        );
    Object.assign(values, p3Values("scaleP3", p3));
    if (p3) log?.(p3Line("P3", p3));
    const lights = opts.light?.configs ?? [];
    if (
      lights.length &&
      wants("P3") &&
      (opts.light.always || clientBound(p3) || p3 === undefined)
    ) {
      light = lights;
      for (const [i, f] of lights.entries()) {
        const name = `P3 light ${i + 1}`;
        const r = await inPhase(name, storage, onLine, errors, log, (ph) =>
          manyClients(ph, f, common, `p3l${i + 1}`, log),
        );
        Object.assign(values, p3Values(`scaleP3Light${i + 1}`, r));
        if (r) log?.(p3Line(name, r));
      }
    }
  } finally {
    try {
      await dropSchema(sql, schema);
      await dropSchema(sql, refSchema);
    } catch (e) {
      errors.drop = `could not drop schema ${schema}: ${e.message}`;
    }
    await sql.end({ timeout: 5 });
  }
  return { values, errors, schema, light };
}

function p3Line(name, r) {
  const f = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(0));
  return `${name}: p50 ${f(r.p50)} ms, p99 ${f(r.p99)} ms; ${r.deliveries} of ${r.expected} deliveries (${r.missing} missing); RSS ${r.serverRssMiB.map((x) => x?.toFixed(0)).join(" / ")} MiB; cores: servers ${r.serverCores.map((x) => x.toFixed(2)).join(" + ")}, clients ${r.clientCores.toFixed(2)}, Postgres ${r.cores.postgres.toFixed(2)}, machine ${r.cores.machine.toFixed(2)}; writers' worst lag ${f(r.writerLateMs)} ms, ${r.skipped} writes skipped`;
}
