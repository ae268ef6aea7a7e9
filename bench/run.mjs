#!/usr/bin/env node
// `npm run bench`: Kiln beside @fireproof/core and PouchDB, same machine, same documents,
// (workload `sync`) beside PouchDB, automerge-repo and Yjs syncing through a server, and
// (workload `scale`, Kiln only) several `kiln serve` processes on one Postgres.
// Every (system, workload, run) runs in a fresh child process (worker.mjs; a sync scenario
// in fresh server and client processes, sync/scenarios.mjs; the scale-out phases likewise,
// scale/scenarios.mjs); this file only installs the peers, builds Kiln, schedules the
// children, and prints the report.
// Progress goes to stderr; the Markdown report to stdout and bench/results/latest.md.
import { fork, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { makeDocs } from "./docs.mjs";
import { shownUrl } from "./scale/postgres.mjs";
import { runScale } from "./scale/scenarios.mjs";
import { SCALE_RAW_KEYS, renderScaleSection } from "./scale/table.mjs";
import { KILN_ONLY, SCENARIOS, runScenario } from "./sync/scenarios.mjs";
import { SYNC_RAW_KEYS, renderSyncTable, syncNotes } from "./sync/table.mjs";
import {
  LABELS,
  LOCAL_SYSTEMS,
  SYNC_SYSTEMS,
  SYSTEMS,
  median,
  renderRuns,
  renderTable,
} from "./table.mjs";

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH, "..");
const DATA_ROOT = join(BENCH, ".data");
// each bench run keeps its stores in its own folder, so two runs at once can't wipe each other's
const DATA = join(DATA_ROOT, `run-${process.pid}`);
const RESULTS = join(BENCH, "results");
const WORKLOADS = [
  "write",
  "bulk",
  "get",
  "reopen",
  "size",
  "query",
  "sync",
  "scale",
];

const HELP = `usage: npm run bench [-- options]   (or: node bench/run.mjs [options])

options
  --quick              smoke run: 1,000 docs, 1 run, small ledger sizes, short scale-out
  --systems=a,b        subset of: ${SYSTEMS.join(", ")}
                       (${LOCAL_SYSTEMS.join(", ")} run the local workloads;
                       ${SYNC_SYSTEMS.join(", ")} run sync)
  --workloads=a,b      subset of: ${WORKLOADS.join(", ")}
                       (write = workloads 1, 5, 6; reopen = 4; size = 7;
                       query = Q1-Q4; sync = S1-S4, ~6 min;
                       scale = scale-out P1-P3 on Postgres, Kiln only, ~3 min;
                       soak = one kiln serve under honest + hostile clients,
                       BENCH_SOAK_SECONDS, own report; only when named)
  --no-build           do not run \`npm run build\` for Kiln first
  --no-install         do not install bench/node_modules when missing
  -h, --help

environment
  BENCH_RUNS=3         runs per (system, workload); medians are reported
  BENCH_DOCS=10000     docs per workload
  BENCH_SEED=1337      seed of the generated documents
  BENCH_BATCH=100      docs per bulk call (workloads 2-4)
  BENCH_FP_SEQ=300     cap on Fireproof's sequential puts (it runs ~70-100 docs/s)
  BENCH_FP_GETS=2000   cap on Fireproof's timed gets (~500 gets/s; its store still holds all docs)
  BENCH_SCALE_SIZES=1000,100000   ledger sizes for workload 7 (\`size\`)
  BENCH_SCALE_PUTS=1000           sequential puts timed at each size
  BENCH_SCALE_PEERS=1  also run workload 7 on the peers (default: Kiln only)
  BENCH_QUERY_REPEATS=20   Q2: repeats of the query after the first (median)
  BENCH_QUERY_CYCLES=50    Q3: put-then-query cycles
  BENCH_QUERY_SLOW_RUNS=1  runs of the slow query tasks: the peers' Q1-Q3 and Kiln's Q4
                           (Kiln's Q1-Q3 run BENCH_RUNS times)
  BENCH_POUCH_QREPEATS=5, BENCH_POUCH_QCYCLES=6   caps on PouchDB's Q2 repeats, Q3 cycles
  BENCH_FP_QREPEATS=2, BENCH_FP_QCYCLES=2         caps on Fireproof's (~5-10 s a query)
  BENCH_QUERY_LIMIT_DOCS=100000   Q4: ledger size (Kiln only)
  BENCH_QUERY_LIMIT_REPEATS=200   Q4: timed limit-10 queries (median)
  BENCH_TIMEOUT_S=300  per child process
  BENCH_CLOSE_GRACE_S=5   how long a child may take to close() after its numbers are in
  BENCH_KEEP_DATA=1    keep the stores under bench/.data/run-<pid>/
  BENCH_KILN_MODULE=…  benchmark another Kiln build instead of dist/index.js

environment of the sync workloads (S1-S4)
  BENCH_SYNC_RUNS=1    runs of each sync scenario (S1 already reports p50/p99 of many writes)
  BENCH_SYNC_SCENARIOS=S1,S2,S3,S4,S5   subset of them (S4, S5 are Kiln only)
  BENCH_SYNC_WRITES=500   S1: timed writes (after BENCH_SYNC_WARMUP=10 untimed ones)
  BENCH_SYNC_DOCS=10000   S2, S3: docs written while B is offline / A is offline
  BENCH_SYNC_BATCH=1      S2, S3: docs per write call in their (untimed) write phase
  BENCH_AM_BATCH=100      ... at least this many for automerge-repo (a change costs O(doc size))
  BENCH_SYNC_CHECK=1      S3: a fresh replica then catches up and is counted (0: skip)
  BENCH_SYNC_STEP_S=120   timeout of one step (S2/S3's long steps get 3x); these bound
                          a scenario (BENCH_TIMEOUT_S does not apply to it)
  BENCH_FANOUT_S=60       S4: seconds of writing
  BENCH_FANOUT_CLIENTS=200, BENCH_FANOUT_LEDGERS=20, BENCH_FANOUT_RATE=2 (writes/s per client)
  BENCH_FANOUT_PROCS=4    S4: client processes the clients are spread over
  BENCH_FANOUT_DRAIN_S=30 S4: how long to wait for the last deliveries after the writes
  BENCH_FANOUT_LATE_S=10  S4: a client this far behind its write schedule stops writing
  BENCH_KILN_TOKEN=…      bearer token for Kiln's connect() (not needed on loopback)

environment of the soak workload (\`soak\`, Kiln only, bench/soak/soak.mjs)
  BENCH_SOAK_SECONDS=300  seconds of honest writes with the hostile clients running
  BENCH_SOAK_WRITERS=3, BENCH_SOAK_READERS=2 (live subscribers per writer's ledger),
  BENCH_SOAK_RATE=5 (writes/s per writer), BENCH_SOAK_SAMPLE_S=5 (server RSS samples),
  BENCH_SOAK_DRAIN_S=15 (wait for the last deliveries)
  BENCH_SOAK_HOSTILE=all  or a subset of nonReader,slowloris,bigPosts,wideHeads ("" none)

environment of the scale-out workload (P1-P3, \`scale\`, Kiln only)
  BENCH_SCALE_PG=postgres://postgres@127.0.0.1:5432/test   where (a fresh schema per run,
                          dropped after; commit bytes in Postgres)
  BENCH_SCALE_REF_S=3     ref: seconds of bare write transactions with / without NOTIFY (0: skip)
  BENCH_SCALE_PHASES=P1,P2,P3   subset of the phases
  BENCH_SCALE_P1_S=5, BENCH_SCALE_P1_WARMUP_S=5   P1: timed window after a warm-up, per run
  BENCH_SCALE_P1_ROUNDS=2     P1: rounds of (1 process, 3 processes), in ABBA order
  BENCH_SCALE_P1_LEDGERS=60   P1: ledgers, one closed-loop client each
  BENCH_SCALE_P1_PROCS=2      P1: client processes
  BENCH_SCALE_WRITES=500  P2: timed writes (after 10 untimed ones)
  BENCH_SCALE_S=60        P3: seconds of writing
  BENCH_SCALE_CLIENTS=1000, BENCH_SCALE_LEDGERS=100, BENCH_SCALE_RATE=1 (writes/s per client)
  BENCH_SCALE_PROCS=4     P3: client processes
  BENCH_SCALE_DRAIN_S=30, BENCH_SCALE_LATE_S=10   P3: as BENCH_FANOUT_DRAIN_S / _LATE_S
  BENCH_SCALE_LIGHT=1000x100@0.1,100x10@1   lighter P3 configurations (clients x ledgers
                          @ writes/s each), run when the full P3 is short of client CPU
                          (writers > 1 s late); "always:" first runs them anyway; 0 never
  BENCH_SCALE_LIGHT_S=20  P3 light: seconds of writing, each
`;

// ---------------------------------------------------------------- options

const args = process.argv.slice(2);
// --browser: the browser workloads in Chromium (bench/browser/run.ts), nothing else.
if (args.includes("--browser")) {
  const run = spawnSync(
    process.execPath,
    ["--import", "tsx", join(BENCH, "browser", "run.ts")],
    { stdio: "inherit", cwd: ROOT },
  );
  process.exit(run.status ?? 1);
}
// --workloads=…soak…: the soak (bench/soak/soak.mjs, its own report) first, then the rest.
const soakArg = args.findIndex(
  (a) => a.startsWith("--workloads=") && a.split(/[=,]/).includes("soak"),
);
if (soakArg >= 0 && !args.includes("-h") && !args.includes("--help")) {
  const rest = args[soakArg]
    .slice("--workloads=".length)
    .split(",")
    .filter((w) => w !== "soak");
  if (!args.includes("--no-build")) {
    const build = spawnSync("npm", ["run", "build"], {
      stdio: ["ignore", 2, 2],
      cwd: ROOT,
    });
    if (build.status !== 0) process.exit(build.status ?? 1);
  }
  const soak = spawnSync(process.execPath, [join(BENCH, "soak", "soak.mjs")], {
    stdio: "inherit",
    cwd: ROOT,
  });
  if (rest.length === 0) process.exit(soak.status ?? 1);
  args[soakArg] = `--workloads=${rest.join(",")}`;
  args.push("--no-build");
}
if (args.includes("-h") || args.includes("--help")) {
  process.stdout.write(HELP);
  process.exit(0);
}
const flag = (name) => args.includes(`--${name}`);
const list = (name) =>
  args
    .find((a) => a.startsWith(`--${name}=`))
    ?.split("=")[1]
    .split(",")
    .filter(Boolean);
const env = process.env;
const int = (v, d) =>
  v === undefined || v === "" ? d : Number.parseInt(v, 10);
const unknown = args.filter(
  (a) => !/^--(quick|no-build|no-install|systems=.*|workloads=.*)$/.test(a),
);
if (unknown.length) {
  process.stderr.write(`unknown option(s): ${unknown.join(" ")}\n\n${HELP}`);
  process.exit(2);
}

const quick = flag("quick");
/** BENCH_SCALE_LIGHT: "[always:]CxL@R,…" (clients x ledgers @ writes/s each) or "0". */
function lightConfigs(text) {
  if (text === "0" || text === "") return undefined;
  const always = text.startsWith("always:");
  const configs = text
    .slice(always ? "always:".length : 0)
    .split(",")
    .map((part) => {
      const m = /^(\d+)x(\d+)@(\d+(?:\.\d+)?)$/.exec(part.trim());
      if (!m)
        throw new Error(
          `BENCH_SCALE_LIGHT must look like 1000x100@0.1,100x10@1 (optionally after always:) or 0, not ${text}`,
        );
      return {
        clients: Number(m[1]),
        ledgers: Number(m[2]),
        rate: Number(m[3]),
      };
    });
  return { always, configs };
}
const opts = {
  quick,
  runs: int(env.BENCH_RUNS, quick ? 1 : 3),
  docs: int(env.BENCH_DOCS, quick ? 1000 : 10000),
  seed: int(env.BENCH_SEED, 1337),
  batch: int(env.BENCH_BATCH, 100),
  fpSeq: int(env.BENCH_FP_SEQ, quick ? 100 : 300),
  fpGets: int(env.BENCH_FP_GETS, quick ? 500 : 2000),
  scaleSizes: (env.BENCH_SCALE_SIZES ?? (quick ? "1000,10000" : "1000,100000"))
    .split(",")
    .map(Number)
    .filter((n) => n > 0),
  scalePuts: int(env.BENCH_SCALE_PUTS, quick ? 200 : 1000),
  scalePeers: env.BENCH_SCALE_PEERS === "1",
  query: {
    repeats: int(env.BENCH_QUERY_REPEATS, quick ? 5 : 20),
    cycles: int(env.BENCH_QUERY_CYCLES, quick ? 10 : 50),
    slowRuns: int(env.BENCH_QUERY_SLOW_RUNS, 1),
    limit: 10,
    limitSize: int(env.BENCH_QUERY_LIMIT_DOCS, quick ? 10000 : 100000),
    limitRepeats: int(env.BENCH_QUERY_LIMIT_REPEATS, quick ? 50 : 200),
  },
  sync: {
    runs: int(env.BENCH_SYNC_RUNS, 1),
    scenarios: (env.BENCH_SYNC_SCENARIOS ?? SCENARIOS.join(","))
      .split(",")
      .map((x) => x.trim().toUpperCase())
      .filter(Boolean),
    seed: int(env.BENCH_SEED, 1337),
    writes: int(env.BENCH_SYNC_WRITES, quick ? 100 : 500),
    warmup: int(env.BENCH_SYNC_WARMUP, 10),
    docs: int(env.BENCH_SYNC_DOCS, quick ? 1000 : 10000),
    batch: int(env.BENCH_SYNC_BATCH, 1),
    verify: env.BENCH_SYNC_CHECK !== "0",
    stepMs: int(env.BENCH_SYNC_STEP_S, 120) * 1000,
    fanout: {
      seconds: int(env.BENCH_FANOUT_S, quick ? 10 : 60),
      clients: int(env.BENCH_FANOUT_CLIENTS, 200),
      ledgers: int(env.BENCH_FANOUT_LEDGERS, 20),
      rate: Number(env.BENCH_FANOUT_RATE || 2),
      procs: int(env.BENCH_FANOUT_PROCS, 4),
      drainS: int(env.BENCH_FANOUT_DRAIN_S, 30),
      lateCapS: int(env.BENCH_FANOUT_LATE_S, 10),
    },
  },
  scale: {
    pg: env.BENCH_SCALE_PG || "postgres://postgres@127.0.0.1:5432/test",
    seed: int(env.BENCH_SEED, 1337),
    stepMs: int(env.BENCH_SYNC_STEP_S, 120) * 1000,
    refS: int(env.BENCH_SCALE_REF_S, quick ? 1 : 3),
    p1: {
      seconds: int(env.BENCH_SCALE_P1_S, quick ? 3 : 5),
      warmupS: int(env.BENCH_SCALE_P1_WARMUP_S, quick ? 1 : 5),
      ledgers: int(env.BENCH_SCALE_P1_LEDGERS, 60),
      procs: int(env.BENCH_SCALE_P1_PROCS, 2),
      rounds: int(env.BENCH_SCALE_P1_ROUNDS, quick ? 1 : 2),
    },
    p2: { writes: int(env.BENCH_SCALE_WRITES, quick ? 100 : 500), warmup: 10 },
    p3: {
      seconds: int(env.BENCH_SCALE_S, quick ? 10 : 60),
      clients: int(env.BENCH_SCALE_CLIENTS, 1000),
      ledgers: int(env.BENCH_SCALE_LEDGERS, 100),
      rate: Number(env.BENCH_SCALE_RATE || 1),
      procs: int(env.BENCH_SCALE_PROCS, 4),
      drainS: int(env.BENCH_SCALE_DRAIN_S, 30),
      lateCapS: int(env.BENCH_SCALE_LATE_S, 10),
    },
    light: undefined, // below: P3's shape with fewer clients or writes
    phases: env.BENCH_SCALE_PHASES?.split(",").map((p) =>
      p.trim().toUpperCase(),
    ),
  },
  timeoutMs: int(env.BENCH_TIMEOUT_S, 300) * 1000,
  closeGraceS: int(env.BENCH_CLOSE_GRACE_S, 5),
  keepData: env.BENCH_KEEP_DATA === "1",
  systems: list("systems") ?? SYSTEMS,
  workloads: list("workloads") ?? WORKLOADS,
};
for (const s of opts.systems)
  if (!SYSTEMS.includes(s))
    throw new Error(`unknown system ${s} (known: ${SYSTEMS.join(", ")})`);
for (const w of opts.workloads)
  if (!WORKLOADS.includes(w))
    throw new Error(`unknown workload ${w} (known: ${WORKLOADS.join(", ")})`);
if (!(opts.runs > 0 && opts.docs > 0))
  throw new Error("BENCH_RUNS and BENCH_DOCS must be positive integers");
for (const sc of opts.sync.scenarios)
  if (!SCENARIOS.includes(sc))
    throw new Error(
      `unknown sync scenario ${sc} in BENCH_SYNC_SCENARIOS (known: ${SCENARIOS.join(", ")})`,
    );
const { fanout } = opts.sync;
if (!(
  opts.sync.runs > 0 &&
  opts.sync.writes > 0 &&
  opts.sync.docs > 0 &&
  opts.sync.batch > 0 &&
  fanout.seconds > 0 &&
  fanout.clients > 1 &&
  fanout.ledgers > 0 &&
  fanout.ledgers <= fanout.clients / 2 &&
  fanout.rate > 0
))
  throw new Error(
    "BENCH_SYNC_* and BENCH_FANOUT_* must be positive, with at least 2 clients per ledger",
  );
{
  const { p1, p2, p3 } = opts.scale;
  const light = lightConfigs(env.BENCH_SCALE_LIGHT ?? "1000x100@0.1,100x10@1");
  const lightS = int(env.BENCH_SCALE_LIGHT_S, quick ? 10 : 20);
  if (light)
    opts.scale.light = {
      always: light.always,
      configs: light.configs.map((c) => ({ ...p3, ...c, seconds: lightS })),
    };
  for (const f of [p3, ...(opts.scale.light?.configs ?? [])])
    if (!(
      f.seconds > 0 &&
      f.clients > 1 &&
      f.ledgers > 0 &&
      f.ledgers <= f.clients / 2 &&
      f.rate > 0
    ))
      throw new Error(
        "BENCH_SCALE_* (P3 and its light configuration) must be positive, with at least 2 clients per ledger",
      );
  if (!(
    p1.seconds > 0 &&
    p1.ledgers > 0 &&
    p1.procs > 0 &&
    p1.rounds > 0 &&
    p2.writes > 0
  ))
    throw new Error("BENCH_SCALE_P1_* and BENCH_SCALE_WRITES must be positive");
  for (const ph of opts.scale.phases ?? [])
    if (!["P1", "P2", "P3"].includes(ph))
      throw new Error(
        `unknown phase ${ph} in BENCH_SCALE_PHASES (known: P1, P2, P3)`,
      );
}
// the local workloads, `sync` and `scale` have their own systems (see table.mjs)
const localWorkloads = opts.workloads.filter(
  (w) => w !== "sync" && w !== "scale",
);
const wantsSync = opts.workloads.includes("sync");
// scale-out is Kiln's alone; it needs Kiln's sync (its probe is the sync probe)
const wantsScale =
  opts.workloads.includes("scale") && opts.systems.includes("kiln");
const localSystems = localWorkloads.length
  ? opts.systems.filter((s) => LOCAL_SYSTEMS.includes(s))
  : [];
const syncSystems = wantsSync
  ? opts.systems.filter((s) => SYNC_SYSTEMS.includes(s))
  : [];
const netSystems =
  wantsScale && !syncSystems.includes("kiln")
    ? ["kiln", ...syncSystems]
    : syncSystems;

let midLine = false; // a progress line is open, waiting for its result
const log = (msg) => {
  process.stderr.write(msg + "\n");
  midLine = false;
};
const progress = (msg) => {
  process.stderr.write(msg);
  midLine = true;
};
const childLine = (line) => {
  process.stderr.write(
    (midLine ? "\n" : "") +
      "    | " +
      (line.length > 300 ? line.slice(0, 300) + " …" : line) +
      "\n",
  );
  midLine = false;
};
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

// ---------------------------------------------------------------- setup

/** Install the peers into bench/node_modules if they are missing. */
function ensurePeers() {
  const packages = {
    pouchdb: [
      ...(localSystems.includes("pouchdb") ? ["pouchdb", "pouchdb-find"] : []),
      ...(syncSystems.includes("pouchdb")
        ? ["pouchdb", "pouchdb-adapter-memory", "express-pouchdb"]
        : []),
    ],
    fireproof: ["@fireproof/core"],
    automerge: [
      "@automerge/automerge-repo",
      "@automerge/automerge-repo-network-websocket",
      "ws",
    ],
    yjs: ["yjs", "y-websocket", "@y/websocket-server", "ws"],
  };
  const need = [...localSystems, ...syncSystems].flatMap(
    (s) => packages[s] ?? [],
  );
  const missing = need.filter(
    (p) => !existsSync(join(BENCH, "node_modules", p, "package.json")),
  );
  if (missing.length === 0) return;
  if (flag("no-install")) {
    log(`bench: ${missing.join(", ")} not installed and --no-install given`);
    return;
  }
  const ci = existsSync(join(BENCH, "package-lock.json"));
  const cmd = [
    ci ? "ci" : "install",
    "--prefix",
    BENCH,
    "--no-audit",
    "--no-fund",
  ];
  log(`bench: installing peers: npm ${cmd.join(" ")}`);
  const r = spawnSync(npm, cmd, {
    stdio: ["ignore", 2, 2],
    shell: process.platform === "win32",
  });
  if (r.status !== 0)
    log(
      `bench: peer install failed (exit ${r.status}); peers that cannot load will be skipped`,
    );
}

/** Build Kiln (tsc → dist/) so the numbers are for the current source. */
function buildKiln() {
  if (
    !(localSystems.includes("kiln") || netSystems.includes("kiln")) ||
    flag("no-build") ||
    env.BENCH_BUILD === "0" ||
    env.BENCH_KILN_MODULE
  )
    return undefined;
  if (!existsSync(join(ROOT, "src"))) return undefined;
  log("bench: building Kiln (npm run build) …");
  const t0 = performance.now();
  const r = spawnSync(npm, ["run", "build", "--silent"], {
    cwd: ROOT,
    stdio: ["ignore", 2, 2],
    shell: process.platform === "win32",
  });
  if (r.status !== 0)
    return `\`npm run build\` failed (exit ${r.status}); fix the build to benchmark Kiln`;
  log(`bench: built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return undefined;
}

/** One line of library output: forward it (shortened), and keep error logs for the report. */
function libraryLine(line, logged) {
  if (!line.trim()) return;
  childLine(line);
  let msg;
  if (line.startsWith("{")) {
    try {
      const j = JSON.parse(line);
      if (j.level === "error")
        msg = [j.module, j.msg, j.error].filter(Boolean).join(": ");
    } catch {
      // not JSON after all
    }
  } else if (/\b(error|exception)\b/i.test(line)) msg = line;
  if (msg) logged.push(msg.length > 200 ? msg.slice(0, 200) + " …" : msg);
}

/** Run one spec in a fresh child; resolves { ok, result, logged } or { ok: false, error, logged }. */
function runChild(spec) {
  return new Promise((done) => {
    const child = fork(join(BENCH, "worker.mjs"), [JSON.stringify(spec)], {
      cwd: BENCH,
      execArgv: ["--expose-gc"],
      env: {
        ...env,
        BENCH_FP_SEQ: String(opts.fpSeq),
        BENCH_FP_GETS: String(opts.fpGets),
      },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    // library chatter goes to stderr, never into the report on stdout
    const logged = [];
    for (const stream of [child.stdout, child.stderr])
      createInterface({ input: stream }).on("line", (l) =>
        libraryLine(l, logged),
      );
    let msg;
    let timedOut = false;
    let grace;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs);
    child.on("message", (m) => {
      msg = m;
      // numbers are in; the child only closes its store now: give that a grace period,
      // then kill it (a signal works even when the child's event loop is starved)
      if (m.partial && !grace)
        grace = setTimeout(
          () => child.kill("SIGKILL"),
          opts.closeGraceS * 1000,
        );
      if (!m.partial) clearTimeout(grace);
    });
    child.on("error", (e) => (msg ??= { ok: false, error: e.message }));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(grace);
      let r = msg ?? {
        ok: false,
        error: timedOut
          ? `timed out after ${opts.timeoutMs / 1000} s`
          : `child exited (code ${code}, signal ${signal}) without a result`,
      };
      if (r.partial)
        r = { ok: true, result: { ...r.result, closeFinished: false } };
      done({ ...r, logged });
    });
  });
}

/** Is `pid` a live bench run? (On Linux, also check its command line: pids get reused.) */
function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (e.code !== "EPERM") return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("run.mjs");
  } catch {
    return true; // no /proc: trust the signal check
  }
}

/** Delete what earlier (finished or killed) runs left in bench/.data/; warn about live ones. */
function removeStaleData() {
  if (!existsSync(DATA_ROOT)) return;
  for (const name of readdirSync(DATA_ROOT)) {
    const pid = /^run-(\d+)$/.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && alive(Number(pid))) {
      log(
        `bench: ⚠ another bench run (pid ${pid}) is running on this machine; both will be slowed down`,
      );
      continue;
    }
    rmSync(join(DATA_ROOT, name), { recursive: true, force: true });
  }
}

function freshDir(name) {
  const dir = join(DATA, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

function clean(dir) {
  if (!opts.keepData) rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- main

const started = performance.now();
const loadStart = os.loadavg()[0];
const sample = makeDocs(opts.seed, Math.min(opts.docs, 1000));
const avgBytes =
  sample.reduce((a, d) => a + JSON.stringify(d).length, 0) / sample.length;
log(
  `bench: seed ${opts.seed}, ${opts.docs.toLocaleString("en-US")} docs of ~${avgBytes.toFixed(0)} B JSON, ${opts.runs} run(s), systems ${opts.systems.join(", ")}${quick ? " (--quick)" : ""}`,
);

removeStaleData();
mkdirSync(DATA, { recursive: true });
ensurePeers();
const buildError = buildKiln();

// probe: can each system load here? (for sync: can it sync — a Kiln build without
// Ledger.connect() is reported as "Kiln sync not available" while its local workloads run)
async function probeAll(systems, workload) {
  const found = {};
  const missing = {};
  for (const s of systems) {
    if (s === "kiln" && buildError) {
      missing[s] = buildError;
      continue;
    }
    const r = await runChild({ system: s, workload });
    if (r.ok) found[s] = r.result;
    else missing[s] = r.error;
  }
  return [found, missing];
}
const [info, skipped] = await probeAll(localSystems, "probe");
const [syncInfo, syncSkipped] = await probeAll(netSystems, "syncProbe");
for (const [s, why] of Object.entries(skipped))
  log(`bench: ⚠ ${LABELS[s]} will not be run: ${why}`);
for (const [s, why] of Object.entries(syncSkipped))
  log(`bench: ⚠ ${LABELS[s]}'s sync workloads will not be run: ${why}`);
const active = localSystems.filter((s) => info[s]);
const activeSync = syncSystems.filter((s) => syncInfo[s]);
const scaleActive = wantsScale && Boolean(syncInfo.kiln);
if (active.length === 0 && activeSync.length === 0 && !scaleActive) {
  log(
    localSystems.length + netSystems.length === 0
      ? `bench: none of the systems ${opts.systems.join(", ")} runs the workloads ${opts.workloads.join(", ")}`
      : "bench: no system could be loaded; nothing to measure",
  );
  process.exit(1);
}

// schedule: run-major, so slow drift on a shared machine spreads over all systems
const tasks = [];
for (let run = 1; run <= opts.runs; run++) {
  for (const wl of opts.workloads) {
    for (const s of active) {
      if (wl === "size") {
        if (s === "kiln" || opts.scalePeers)
          for (const size of opts.scaleSizes) tasks.push({ run, wl, s, size });
      } else if (wl === "query") {
        // Kiln's Q1-Q3 take seconds, every run; the peers' (a minute for Fireproof) and
        // Kiln's Q4 (a 100k-doc pre-fill) only in the first BENCH_QUERY_SLOW_RUNS runs
        const slow = run <= opts.query.slowRuns;
        if (s === "kiln" || slow) tasks.push({ run, wl, s });
        if (s === "kiln" && slow)
          tasks.push({ run, wl: "queryLimit", s, size: opts.query.limitSize });
      } else if (wl !== "sync" && wl !== "scale") tasks.push({ run, wl, s });
    }
    // sync: each scenario in its own processes; S4 is Kiln's alone
    if (wl === "sync" && run <= opts.sync.runs)
      for (const scenario of opts.sync.scenarios)
        for (const s of activeSync)
          if (s === "kiln" || !KILN_ONLY.includes(scenario))
            tasks.push({ run, wl, s, scenario });
    // scale-out: once, however many runs (its phases already time many operations)
    if (wl === "scale" && run === 1 && scaleActive)
      tasks.push({ run, wl, s: "kiln" });
  }
}

const everyActive = [
  ...new Set([...active, ...activeSync, ...(scaleActive ? ["kiln"] : [])]),
];
const results = Object.fromEntries(everyActive.map((s) => [s, { errors: {} }]));
const counts = Object.fromEntries(everyActive.map((s) => [s, {}]));
const push = (s, key, v, n) => {
  (results[s][key] ??= []).push(v);
  if (n !== undefined) counts[s][key] = n;
};
const errors = [];
const libraryErrors = {}; // message → runs in which a child's library logged it
const slowCloses = [];

// workload 4 reopens the store that workload 3 bulk-loaded and closed (same docs, same
// batches), so that load is paid once; without workload 3 it builds its own
const reuseGetStore =
  opts.workloads.includes("get") && opts.workloads.includes("reopen");
const getStores = {}; // `${system}-r${run}` → dir left by a successful get task

/** One sync scenario: its own server and client processes (sync/scenarios.mjs). */
async function runSync(t) {
  const logged = [];
  try {
    // the adapter module only: the library itself loads in the children
    const sys = await import(`./sync/adapters/${t.s}.mjs`);
    const result = await runScenario({
      system: t.s,
      sys,
      scenario: t.scenario,
      opts: opts.sync,
      onLine: (line) => libraryLine(line, logged),
      log: (msg) => childLine(msg),
    });
    return { ok: true, result, logged };
  } catch (e) {
    return {
      ok: false,
      error: e instanceof Error ? e.message : String(e),
      logged,
    };
  }
}

/** The scale-out workload: its phases start their own processes (scale/scenarios.mjs). */
const scaleOutcome = {}; // { values, errors, unreachable?, light?, schema } of the run
async function runScaleTask() {
  const logged = [];
  try {
    const result = await runScale({
      opts: opts.scale,
      onLine: (line) => libraryLine(line, logged),
      log: (msg) => childLine(msg),
    });
    return { ok: true, result, logged };
  } catch (e) {
    return {
      ok: false,
      error: e instanceof Error ? e.message : String(e),
      logged,
    };
  }
}

const ms = (x) =>
  x === undefined ? "—" : `${x < 10 ? x.toFixed(2) : x.toFixed(0)} ms`;

let i = 0;
for (const t of tasks) {
  i++;
  const tag = `${t.s}-${t.wl}-r${t.run}${t.size ? "-" + t.size : ""}`;
  const what = `${LABELS[t.s]} · ${t.wl}${t.scenario ? ` ${t.scenario}` : ""}${t.size ? ` @${t.size.toLocaleString("en-US")}` : ""}`;
  progress(`[${i}/${tasks.length}] run ${t.run}/${opts.runs} ${what} … `);
  const reused = t.wl === "reopen" ? getStores[`${t.s}-r${t.run}`] : undefined;
  // sync scenarios keep everything in memory
  const dir =
    t.wl === "sync" || t.wl === "scale" ? undefined : (reused ?? freshDir(tag));
  const base = {
    system: t.s,
    dir,
    seed: opts.seed,
    docs: opts.docs,
    batch: opts.batch,
  };
  const t0 = performance.now();
  let r;
  if (t.wl === "reopen") {
    const prep = reused
      ? undefined
      : await runChild({ ...base, workload: "reopenPrepare" });
    r =
      prep && !prep.ok ? prep : await runChild({ ...base, workload: "reopen" });
    if (prep?.ok) {
      r.logged.unshift(...prep.logged);
      push(t.s, "closeMs@reopenPrepare", prep.result.closeMs);
    }
  } else if (t.wl === "size") {
    r = await runChild({
      ...base,
      workload: "scale",
      size: t.size,
      puts: opts.scalePuts,
      prefillBatch: 1000,
    });
  } else if (t.wl === "query") {
    r = await runChild({
      ...base,
      workload: "query",
      repeats: opts.query.repeats,
      cycles: opts.query.cycles,
    });
  } else if (t.wl === "queryLimit") {
    r = await runChild({
      ...base,
      workload: "queryLimit",
      size: t.size,
      prefillBatch: 1000,
      limit: opts.query.limit,
      repeats: opts.query.limitRepeats,
    });
  } else if (t.wl === "sync") {
    r = await runSync(t);
  } else if (t.wl === "scale") {
    r = await runScaleTask();
  } else {
    r = await runChild({ ...base, workload: t.wl });
  }
  const keep = t.wl === "get" && reuseGetStore && r.ok;
  if (keep) getStores[`${t.s}-r${t.run}`] = dir;
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  if (!keep && dir) clean(dir);
  for (const m of r.logged)
    (libraryErrors[
      `${LABELS[t.s]} · ${t.wl}${t.scenario ? ` ${t.scenario}` : ""}${t.size ? ` @${t.size}` : ""}: ${m}`
    ] ??= []).push(t.run);
  if (!midLine) process.stderr.write("    → ");

  if (!r.ok) {
    const key =
      t.wl === "size"
        ? `scale@${t.size}`
        : t.wl === "sync"
          ? `sync${t.scenario}`
          : t.wl; // queryLimit: Q4
    results[t.s].errors[key] = r.error;
    const openOnly =
      t.wl === "reopen" && /^open took (\d+) ms/.exec(r.error ?? "");
    if (openOnly) push(t.s, "reopenOpenOnlyMs", Number(openOnly[1]));
    errors.push(`${what} run ${t.run}: ${r.error}`);
    log(`FAILED (${secs} s): ${r.error}`);
    continue;
  }
  const x = r.result;
  if (x.closeMs !== undefined)
    push(t.s, `closeMs@${t.wl}${t.size ? "@" + t.size : ""}`, x.closeMs);
  if (x.closeFinished === false)
    slowCloses.push(
      `${what} run ${t.run}: close() had not finished ${opts.closeGraceS} s after the numbers were in (not timed; the child was killed)`,
    );
  switch (t.wl) {
    case "write":
      for (const k of ["seqPut", "diskBefore", "diskAfter", "rssGrowthMiB"])
        push(t.s, k, x[k], x.count);
      for (const k of [
        "diskBeforeApparent",
        "diskAfterApparent",
        "peakRssGrowthMiB",
        "compactMs",
      ])
        push(t.s, k, x[k]);
      log(
        `${Math.round(x.seqPut)} puts/s (n=${x.count}), ${Math.round(x.diskBefore)} → ${Math.round(x.diskAfter)} B/doc, RSS +${x.rssGrowthMiB.toFixed(1)} MiB (${secs} s)`,
      );
      break;
    case "bulk":
      push(t.s, "bulk", x.bulk, x.count);
      log(`${Math.round(x.bulk)} docs/s (${secs} s)`);
      break;
    case "get":
      push(t.s, "get", x.get, x.count);
      log(`${Math.round(x.get)} gets/s (${secs} s)`);
      break;
    case "reopen":
      push(t.s, "reopenMs", x.reopenMs, x.count);
      push(t.s, "importMs@reopen", x.importMs);
      log(
        `${x.reopenMs.toFixed(1)} ms open+get (import ${x.importMs.toFixed(0)} ms, not timed) (${secs} s)`,
      );
      break;
    case "query":
      push(t.s, "queryFirstMs", x.queryFirstMs);
      push(t.s, "queryRepeatMs", x.queryRepeatMs, x.repeats);
      push(t.s, "queryRepeatMinMs", x.queryRepeatMinMs);
      push(t.s, "queryCycleMs", x.queryCycleMs, x.cycles);
      push(t.s, "queryRows", x.rows);
      log(
        `${x.rows} rows: first ${x.queryFirstMs.toFixed(0)} ms, repeat ${x.queryRepeatMs.toFixed(1)} ms (n=${x.repeats}), put+query ${x.queryCycleMs?.toFixed(1)} ms (n=${x.cycles}) (${secs} s)`,
      );
      break;
    case "queryLimit":
      push(t.s, "queryLimitMs", x.queryLimitMs, x.repeats);
      push(t.s, "queryLimitMinMs", x.queryLimitMinMs);
      push(t.s, "queryLimitBuildMs", x.queryLimitBuildMs);
      log(
        `limit ${x.limit} at ${x.size.toLocaleString("en-US")} docs: ${x.queryLimitMs.toFixed(3)} ms (first query, building the index: ${x.queryLimitBuildMs.toFixed(0)} ms) (${secs} s)`,
      );
      break;
    case "sync": {
      for (const [k, v] of Object.entries(x))
        if (/^(sync|fanout)/.test(k) && typeof v === "number") push(t.s, k, v);
      if (x.writeBatch !== undefined)
        push(t.s, `sync${t.scenario}WriteBatch`, x.writeBatch);
      const docs = x.count?.toLocaleString("en-US");
      if (t.scenario === "S1")
        log(
          `p50 ${ms(x.syncS1P50Ms)}, p99 ${ms(x.syncS1P99Ms)}, max ${ms(x.syncS1MaxMs)} (n=${x.count}) (${secs} s)`,
        );
      else if (t.scenario === "S2")
        log(
          `B had all ${docs} docs ${ms(x.syncS2Ms)} after connect (A wrote them in ${(x.syncS2WriteMs / 1000).toFixed(1)} s, untimed) (${secs} s)`,
        );
      else if (t.scenario === "S5")
        log(
          `B synced ${ms(x.syncS5Ms)} after connect, from a snapshot; its subscription had read all ${docs} docs at ${ms(x.syncS5AllReadMs)} (${secs} s)`,
        );
      else if (t.scenario === "S3")
        log(
          `the server had all ${docs} docs ${ms(x.syncS3Ms)} after A's connect${x.syncS3CheckMs === undefined ? "" : `; check: a fresh replica caught up in ${ms(x.syncS3CheckMs)}`} (${secs} s)`,
        );
      else
        log(
          `fan-out p50 ${ms(x.fanoutP50Ms)}, p99 ${ms(x.fanoutP99Ms)}; ${x.fanoutDeliveries.toLocaleString("en-US")} of ${x.fanoutExpected.toLocaleString("en-US")} deliveries; server RSS peak ${x.fanoutServerRssMiB?.toFixed(0)} MiB (${secs} s)`,
        );
      if (x.fanoutMissing > 0 || x.fanoutForeign > 0)
        errors.push(
          `${what} run ${t.run}: ${x.fanoutMissing} of ${x.fanoutExpected} deliveries never arrived within ${opts.sync.fanout.drainS} s${x.fanoutForeign ? `, ${x.fanoutForeign} arrived at a client of another ledger` : ""}`,
        );
      break;
    }
    case "scale": {
      for (const [k, v] of Object.entries(x.values))
        for (const n of [v].flat()) push(t.s, k, n);
      Object.assign(scaleOutcome, x);
      for (const [phase, message] of Object.entries(x.errors))
        errors.push(`${what} ${phase}: ${message}`);
      if (x.unreachable) {
        results[t.s].errors.scale = x.unreachable;
        log(`not run: ${x.unreachable} (${secs} s)`);
      } else
        log(
          `done: P1 ${Math.round(median(x.values.scaleP1OneRate ?? []) ?? NaN)} vs ${Math.round(median(x.values.scaleP1ThreeRate ?? []) ?? NaN)} head updates/s, P2 p50 ${ms(x.values.scaleP2P50Ms)} / p99 ${ms(x.values.scaleP2P99Ms)}, P3 ${x.values.scaleP3Missing ?? "?"} missing (${secs} s)`,
        );
      break;
    }
    case "size":
      push(t.s, `scalePut@${t.size}`, x.scalePut, x.count);
      log(
        `${Math.round(x.scalePut)} puts/s at ${t.size.toLocaleString("en-US")} docs (${secs} s)`,
      );
      break;
  }
}
if (!opts.keepData) {
  rmSync(DATA, { recursive: true, force: true });
  try {
    rmdirSync(DATA_ROOT); // only if no other run still uses it
  } catch {
    // not empty: another run's stores, or kept data
  }
}

// ---------------------------------------------------------------- report

const cpus = os.cpus();
const elapsed = (performance.now() - started) / 1000;
const scale = opts.workloads.includes("size")
  ? { sizes: opts.scaleSizes, puts: opts.scalePuts }
  : undefined;
const { table, footnotes } = renderTable(results, counts, {
  systems: localSystems,
  workloads: localWorkloads,
  skipped,
  docs: opts.docs,
  scale,
  query: opts.query,
});
const loadEnd = os.loadavg()[0];
// the bench itself keeps about one core busy, so only load beyond that means other work
const busy = loadStart > 0.5 * cpus.length || loadEnd > cpus.length + 0.5;
const version = (s, of = info) =>
  `${LABELS[s]} ${of[s].version} (${of[s].note})`;
const reopenImport = active
  .filter((s) => results[s]["importMs@reopen"])
  .map(
    (s) =>
      `${LABELS[s]} ${Math.round(median(results[s]["importMs@reopen"]))} ms`,
  )
  .join(", ");

const localSection = localWorkloads.length
  ? `Ratios are Kiln/peer for rates and peer/Kiln for times, bytes and MiB, so **a ratio > 1 means Kiln is better**. Targets are Kiln vs PouchDB unless they name another peer or an absolute bound.

${table}

${footnotes.join("\n\n")}${footnotes.length ? "\n\n" : ""}How each number is taken:
- 1: one put per doc, each awaited, into a fresh store; docs/s over the whole loop.
- 2: \`bulk\` / \`bulkDocs\`, ${opts.batch} docs a call, into a fresh store.
- 3: the store is loaded with bulk (not timed), then every doc is read once by id in a seeded random order, in the same process.
- 4: the store of workload 3 (bulk-loaded, ${opts.batch} a batch, and closed; or built the same way if workload 3 is not run); a fresh child imports the library (not timed; median import: ${reopenImport}) and times open + one get of a random doc. The OS page cache is warm.
- 5: \`du\` (allocated blocks) of the run's whole data directory (store and keys) right after workload 1's last put, divided by the docs written; then \`compact()\` on the same instance, \`close()\`, and measured again. Apparent bytes are in the raw data below.
- 6: \`process.memoryUsage().rss\` after \`gc()\`, sampled after the library is imported and the docs generated but before open, and again after the last put of workload 1 (each system in its own process).
${scale ? `- 7: each size first warms up with the same sequential puts into a scratch ledger, then the ledger is pre-filled with bulk (1,000 docs a batch), neither timed; then ${opts.scalePuts.toLocaleString("en-US")} sequential puts of new docs are timed.${opts.scalePeers ? "" : " Kiln only (BENCH_SCALE_PEERS=1 adds the peers)."}\n` : ""}${
      opts.workloads.includes("query")
        ? `- Q1–Q3 (\`query\`): ${opts.docs.toLocaleString("en-US")} query docs (the generated docs with \`status\` redrawn so about half are "open") bulk-loaded untimed; Q1 times the first \`status = "open"\` query, index creation and build included (Kiln \`query("status", { key })\`; PouchDB pouchdb-find \`createIndex\` + \`find\`; Fireproof \`query("status", { key })\`), docs included in every system; Q2 the median of ${opts.query.repeats} repeats; Q3 ${opts.query.cycles} cycles of (put one doc with its status changed — closing an open doc, then reopening it — and query again), mean ms per cycle. Every result is checked against the generator (row count, ids, status of each doc). Kiln's Q1–Q3 run ${opts.runs} time(s); the peers' ${Math.min(opts.runs, opts.query.slowRuns)} (BENCH_QUERY_SLOW_RUNS).
- Q4 (\`query\`, Kiln only, ${Math.min(opts.runs, opts.query.slowRuns)} run(s)): ${opts.query.limitSize.toLocaleString("en-US")} query docs bulk-loaded (1,000 a batch), a first \`limit: ${opts.query.limit}\` query builds the index (untimed; raw values: queryLimitBuildMs), then the median of ${opts.query.limitRepeats} \`query("status", { key: "open", limit: ${opts.query.limit} })\`, each checked (${opts.query.limit} distinct open docs, same rows every time).
`
        : ""
    }- Durability differs: PouchDB's leveldown writes are not fsync'd per put; read each system's notes above.

`
  : "";
const sync = wantsSync
  ? renderSyncTable(results, {
      systems: syncSystems,
      skipped: syncSkipped,
      sync: opts.sync,
    })
  : undefined;
const syncSection = sync
  ? `## Sync

${activeSync.length ? `- systems: ${activeSync.map((s) => version(s, syncInfo)).join("; ")}\n` : ""}${Object.entries(
      syncSkipped,
    )
      .map(([s, why]) => `- **${LABELS[s]} sync not run**: ${why}\n`)
      .join(
        "",
      )}- ${opts.sync.runs > 1 ? `${Math.min(opts.runs, opts.sync.runs)} run(s) per (system, scenario); medians shown` : "1 run per (system, scenario)"}. Ratios are peer/Kiln times, so **a ratio > 1 means Kiln is better**.

${sync.table}

${sync.footnotes.join("\n\n")}${sync.footnotes.length ? "\n\n" : ""}How each number is taken:
${syncNotes(opts.sync, syncSystems).join("\n")}

`
  : "";

const scaleSection = wantsScale
  ? renderScaleSection(results.kiln ?? {}, {
      scale: opts.scale,
      outcome: scaleOutcome,
      skipped: scaleActive ? undefined : (syncSkipped.kiln ?? buildError),
      error: results.kiln?.errors?.scale,
    })
  : "";

const md = `# Kiln benchmark

- date: ${new Date().toISOString()}
- node ${process.version} on ${os.platform()} ${os.arch()}; ${cpus[0]?.model ?? "unknown CPU"} × ${cpus.length} cores; ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM
- seed **${opts.seed}**: ${opts.docs.toLocaleString("en-US")} generated order docs of ~${avgBytes.toFixed(0)} B JSON each, identical for every system
- load average (1 min): ${loadStart.toFixed(2)} at start, ${loadEnd.toFixed(2)} at end${busy ? " — **the machine was busy with other work; expect noise**" : ""}
${localWorkloads.length ? `- ${opts.runs} run(s) per (system, workload), each in a fresh child process (\`node --expose-gc\`); **medians** shown\n` : ""}${quick ? "- **--quick smoke run, not representative**\n" : ""}${active.length ? `- systems: ${active.map((s) => version(s)).join("; ")}\n` : ""}${Object.entries(
  skipped,
)
  .map(([s, why]) => `- **${LABELS[s]} not run**: ${why}\n`)
  .join("")}
${localSection}${syncSection}${scaleSection}
Total bench time: ${elapsed.toFixed(0)} s.
${errors.length ? `\n## Errors\n\nKnown peer bugs behind some of these are described in bench/README.md (Caveats).\n\n${errors.map((e) => `- ${e}`).join("\n")}\n` : ""}${slowCloses.length ? `\n## Slow close()\n\n${slowCloses.map((e) => `- ${e}`).join("\n")}\n` : ""}${
  Object.keys(libraryErrors).length
    ? `\n## Errors the libraries logged\n\n${Object.entries(libraryErrors)
        .map(
          ([m, runs]) =>
            `- ${m} (run${runs.length > 1 ? "s" : ""} ${[...new Set(runs)].join(", ")})`,
        )
        .join("\n")}\n`
    : ""
}
<details><summary>Raw values per run</summary>

${renderRuns(results, { systems: everyActive, scale, extraKeys: [...SYNC_RAW_KEYS, ...SCALE_RAW_KEYS] })}

</details>
`;

process.stdout.write(md);
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, "latest.md"), md);
writeFileSync(
  join(RESULTS, "latest.json"),
  JSON.stringify(
    {
      // the Postgres URL without a password, as in the report
      opts: { ...opts, scale: { ...opts.scale, pg: shownUrl(opts.scale.pg) } },
      info,
      skipped,
      syncInfo,
      syncSkipped,
      results,
      counts,
      avgBytes,
      node: process.version,
      cpu: cpus[0]?.model,
      cores: cpus.length,
      elapsedS: elapsed,
    },
    null,
    2,
  ) + "\n",
);
log(
  `bench: done in ${elapsed.toFixed(0)} s; report written to ${join("bench", "results", "latest.md")}`,
);
process.exit(
  errors.length &&
    Object.keys(results).every((s) => Object.keys(results[s]).length <= 1)
    ? 1
    : 0,
);
