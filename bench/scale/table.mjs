// The scale-out section of the report (`--workloads=scale`, Kiln only): P1-P3 and the
// Postgres reference, with what bounds P1 worked out from the CPU each side used.
import os from "node:os";
import { fmt, median } from "../table.mjs";
import { shownUrl } from "./postgres.mjs";

const P3_SUFFIXES = [
  "P50Ms",
  "P99Ms",
  "MaxMs",
  "Writes",
  "Deliveries",
  "Expected",
  "Missing",
  "Foreign",
  "WriterLateMs",
  "Skipped",
  "LoopDelayMaxMs",
  "ClientCores",
  "SetupMs",
  "Server1RssMiB",
  "Server2RssMiB",
  "Server3RssMiB",
  "Server1Cores",
  "Server2Cores",
  "Server3Cores",
  "ServerCores",
  "PostgresCores",
  "MachineCores",
];
const P1_SUFFIXES = [
  "Rate",
  "ClientRate",
  "AckP50Ms",
  "AckP99Ms",
  "ServerCores",
  "ClientCores",
  "PostgresCores",
  "MachineCores",
];

/** Raw values kept per run (all numbers the workload reports). */
export const SCALE_RAW_KEYS = [
  "scaleRefNotifyRate",
  "scaleRefPlainRate",
  ...P1_SUFFIXES.map((k) => `scaleP1One${k}`),
  ...P1_SUFFIXES.map((k) => `scaleP1Three${k}`),
  "scaleP1Ratio",
  "scaleP2P50Ms",
  "scaleP2P99Ms",
  "scaleP2MeanMs",
  "scaleP2MaxMs",
  "scaleP2Count",
  ...P3_SUFFIXES.map((k) => `scaleP3${k}`),
  // the lighter configurations (BENCH_SCALE_LIGHT), numbered; absent ones are skipped
  ...[1, 2, 3, 4].flatMap((i) =>
    P3_SUFFIXES.map((k) => `scaleP3Light${i}${k}`),
  ),
];

const n0 = (x) =>
  x === undefined ? "—" : Math.round(x).toLocaleString("en-US");
const c2 = (x) => (x === undefined || Number.isNaN(x) ? "—" : x.toFixed(2));
const ms = (x) => (x === undefined ? "—" : `${fmt(x, "ms")} ms`);
const pct = (x) => `${Math.round(x * 100)}%`;
const met = (ok) => (ok === undefined ? "—" : ok ? "✅ yes" : "❌ no");

/**
 * @param results  Kiln's results ({ [key]: number[], errors })
 * @param opts     { scale (run.mjs's opts.scale), outcome ({ light?: configs that ran,
 *                 schema? } of the run),
 *                 skipped?: why Kiln could not run it, error?: why it did not run }
 */
export function renderScaleSection(results, opts) {
  const { scale, outcome = {} } = opts;
  const v = (k) => median(results[k] ?? []);
  const cores = os.cpus().length;
  const { p1, p2, p3 } = scale;
  const head = `## Scale-out: \`kiln serve\` processes on one Postgres

`;
  if (opts.skipped || opts.error) {
    const why = opts.skipped
      ? `Kiln not run: ${opts.skipped}`
      : /^Postgres not reachable/.test(opts.error)
        ? opts.error
        : `error: ${opts.error}`;
    return `${head}| workload | result |
|---|---|
| scale-out P1–P3 | ${why} |

`;
  }

  const lines = ["| workload | result | target | met? |", "|---|---|---|---|"];
  const row = (label, result, target = "report", ok) =>
    lines.push(
      `| ${label} | ${result} | ${target} | ${target === "report" ? "—" : met(ok)} |`,
    );
  // the rest of the machine's busy time (small negatives are sampling skew)
  const other = (p) =>
    Math.max(
      0,
      v(`${p}MachineCores`) -
        v(`${p}ServerCores`) -
        v(`${p}ClientCores`) -
        v(`${p}PostgresCores`),
    );
  const cpuCell = (p) =>
    `${c2(v(`${p}ServerCores`))} / ${c2(v(`${p}ClientCores`))} / ${c2(v(`${p}PostgresCores`))} / ${c2(other(p))} (machine ${c2(v(`${p}MachineCores`))} of ${cores})`;

  const ran = (phase) => !scale.phases || scale.phases.includes(phase);
  if (ran("P1")) {
    const rate = (key) => {
      const runs = results[key] ?? [];
      if (runs.length === 0) return "error";
      return `${n0(v(key))}/s${runs.length > 1 ? ` (mean of runs ${runs.map(n0).join(", ")})` : ""}`;
    };
    const p1What = `${p1.ledgers} ledgers, ${p1.ledgers} closed-loop clients, ${p1.seconds} s window × ${p1.rounds} run${p1.rounds > 1 ? "s" : ""}`;
    row(
      `P1. head updates/s accepted by 1 \`kiln serve\` process (${p1What})`,
      rate("scaleP1OneRate"),
    );
    row(
      "P1. … by 3 processes (client c on process c mod 3)",
      rate("scaleP1ThreeRate"),
    );
    row(
      "P1. … 3 processes / 1 process",
      v("scaleP1Ratio") === undefined
        ? "—"
        : `**${v("scaleP1Ratio").toFixed(2)}×**`,
      "report, and what bounds it (below)",
      undefined,
    );
    row(
      "P1. … put → acknowledgement per client, p50 / p99: 1 process; 3 processes",
      `${ms(v("scaleP1OneAckP50Ms"))} / ${ms(v("scaleP1OneAckP99Ms"))}; ${ms(v("scaleP1ThreeAckP50Ms"))} / ${ms(v("scaleP1ThreeAckP99Ms"))}`,
    );
    row(
      "P1. … cores busy, 1 process: server / clients / Postgres / other",
      cpuCell("scaleP1One"),
    );
    row(
      "P1. … cores busy, 3 processes: servers / clients / Postgres / other",
      cpuCell("scaleP1Three"),
    );
    if (v("scaleRefNotifyRate") !== undefined)
      row(
        "ref. Postgres alone: bare write transactions/s on 16 connections, with one NOTIFY each / without",
        `${n0(v("scaleRefNotifyRate"))}/s / ${n0(v("scaleRefPlainRate"))}/s`,
      );
  }

  if (ran("P2")) {
    const p2p50 = v("scaleP2P50Ms");
    const p2p99 = v("scaleP2P99Ms");
    const p2n = v("scaleP2Count") ?? p2.writes;
    row(
      `P2. fan-out: write by a client of process 1 → subscriber on process 3 fires, p50 (${n0(p2n)} writes)`,
      p2p50 === undefined ? "error" : ms(p2p50),
      "≤ 5 ms",
      p2p50 === undefined ? undefined : p2p50 <= 5,
    );
    row(
      "P2. … p99",
      p2p99 === undefined ? "error" : ms(p2p99),
      "≤ 25 ms",
      p2p99 === undefined ? undefined : p2p99 <= 25,
    );
  }

  // P3 and its light configuration
  const footnotes = [];
  const p3Rows = (prefix, f, title) => {
    const missing = v(`${prefix}Missing`);
    if (missing === undefined) {
      row(`${title}`, "error");
      return;
    }
    const lagged =
      v(`${prefix}WriterLateMs`) > 1000 || v(`${prefix}Skipped`) > 0;
    const mark = lagged ? "‖" : "";
    row(
      `${title}: deliveries (every write × every other client of its ledger)`,
      `${n0(v(`${prefix}Deliveries`))} of ${n0(v(`${prefix}Expected`))}, **${n0(missing)} missing**${v(`${prefix}Foreign`) ? `, ${n0(v(`${prefix}Foreign`))} at a wrong ledger` : ""}`,
      "all converge",
      missing === 0 && !v(`${prefix}Foreign`),
    );
    row(
      "… fan-out latency p50 / p99 (writer's stamp before put → subscriber fires)",
      `${ms(v(`${prefix}P50Ms`))} / ${ms(v(`${prefix}P99Ms`))}${mark}`,
    );
    row(
      "… server RSS, peak per process (1 / 2 / 3)",
      `${[1, 2, 3].map((i) => fmt(v(`${prefix}Server${i}RssMiB`), "MiB")).join(" / ")} MiB`,
    );
    row(
      `… cores busy while writing: servers (1 + 2 + 3) / clients (${f.procs} processes) / Postgres / other`,
      `${c2(v(`${prefix}ServerCores`))} (${[1, 2, 3].map((i) => c2(v(`${prefix}Server${i}Cores`))).join(" + ")}) / ${c2(v(`${prefix}ClientCores`))} / ${c2(v(`${prefix}PostgresCores`))} / ${c2(other(prefix))} (machine ${c2(v(`${prefix}MachineCores`))} of ${cores})`,
    );
    row(
      "… writers' worst lag behind schedule / writes skipped",
      `${ms(v(`${prefix}WriterLateMs`))} / ${n0(v(`${prefix}Skipped`))} of ${n0(f.clients * Math.max(1, Math.round(f.seconds * f.rate)))}`,
    );
    if (lagged)
      footnotes.push(
        `‖ ${title.replace(/\.$/, "")}: the writers fell up to ${(v(`${prefix}WriterLateMs`) / 1000).toFixed(1)} s behind their schedule${v(`${prefix}Skipped`) ? ` and ${n0(v(`${prefix}Skipped`))} writes were skipped (a client more than ${f.lateCapS} s behind stops writing; only writes made are expected)` : ""}: ${f.clients} full Kiln replicas (each decrypting and merging every write of its ledger) on ${cores} shared cores are short of CPU, so these latencies include client-side queueing, not only the servers'. Compare the cores row.`,
      );
  };
  const title3 = (f, name) =>
    `${name}. ${n0(f.clients)} WebSocket clients on ${n0(f.ledgers)} ledgers over 3 processes, ${f.rate} write${f.rate === 1 ? "" : "s"}/s each for ${f.seconds} s`;
  if (ran("P3")) p3Rows("scaleP3", p3, title3(p3, "P3"));
  for (const [i, f] of (outcome.light ?? []).entries())
    p3Rows(
      `scaleP3Light${i + 1}`,
      f,
      `${title3(f, `P3 light ${i + 1}`)} — **lighter configuration**, ${scale.light?.always ? "run on request (BENCH_SCALE_LIGHT=always:…)" : "run because the full P3 was short of client CPU"}`,
    );

  const notes = [
    `- Postgres ${shownUrl(scale.pg)}: a fresh schema per run${outcome.schema ? ` (\`${outcome.schema}\`)` : ""}, dropped after; commit bytes in Postgres (the default \`blobs=postgres\`), the default \`pool-size\` of 10 per process. Every server is its own process running \`kiln serve --host 127.0.0.1 --port P --storage postgres://…?schema=…\` (bench/sync/server.mjs, the same \`main(["serve", …])\` call as the sync workloads), started fresh for each phase; clients are \`memory://\` Kiln replicas (encrypted) in their own processes (bench/sync/fanout.mjs, client.mjs). Everything is on 127.0.0.1; Postgres, servers and clients share the machine's ${cores} cores.`,
    `- CPU is from /proc over the timed window: servers and client processes by pid, Postgres as all \`postgres\` processes (reaped backends included), "other" = the machine's busy time minus those three (the coordinator and anything else running on the machine).`,
    `- ref: before the servers start, ${scale.refS} s of \`BEGIN; UPDATE one row; SELECT pg_notify(…); COMMIT\` on 16 connections from the coordinator, then ${scale.refS} s of the same without the NOTIFY: the rate any NOTIFY-ing commit can reach on this Postgres (a push is such a commit, with more in it).`,
    `- P1: ${p1.ledgers} ledgers, one client each (${p1.procs} client processes), client c on ledger c and on server c mod N. Each client puts one doc, waits for the server's acknowledgement of that commit (its connection's \`pending\` back to 0; no pull in between), and puts the next: one single-commit push per client in flight. Counted by Postgres: every accepted push moves its ledger's \`ledgers.version\` by one in the compare-and-swap statement that stores it, so the rate is the change of \`sum(version)\` over the ${p1.seconds} s window after ${p1.warmupS} s of warm-up (queried at both ends), whatever process accepted it; the clients' own count of acknowledgements in the window is in the raw values (\`…ClientRate\`) as a cross-check. Every run starts fresh servers and client processes with the same clients; ${p1.rounds > 1 ? `${p1.rounds} rounds in ABBA order (1, 3, 3, 1, … processes), so drift on the shared machine weighs on both alike; rates and cores are means of the runs` : "one run of each"}.`,
    `- P2: three processes (process 2 runs with no clients, hearing every notice); writer W connected to process 1, subscriber S to process 3, in their own processes; closed loop as S1 (the next write once S has the last), 10 untimed writes then ${p2.writes}; latency = S's stamp when \`ledger.subscribe\` fires − W's stamp just before \`put\` (the machine's monotonic clock in both processes).`,
    `- P3: as S4 (bench/sync/fanout-run.mjs) over three processes: client c is on ledger c mod ${p3.ledgers} and connects with \`ledger.connect([process c mod 3, the next, the next])\` (it uses the first, the others are failover), ${p3.procs} client processes; each client writes ${p3.rate} doc/s at evenly spread phases; after the writes up to ${p3.drainS} s for the last deliveries, then every (write, other client of its ledger) pair is checked and the missing counted. RSS sampled from /proc every second.`,
  ];

  const bound = p1Bound(v, cores, other);
  return `${head}${lines.join("\n")}

${footnotes.join("\n\n")}${footnotes.length ? "\n\n" : ""}${bound ? `**What bounds P1.** ${bound}\n\n` : ""}How each number is taken:
${notes.join("\n")}

`;
}

/** A sentence or three on what held P1's rate where it was, from the measured CPU. */
function p1Bound(v, cores, other) {
  const one = v("scaleP1OneRate");
  const three = v("scaleP1ThreeRate");
  if (one === undefined || three === undefined) return undefined;
  const ref = v("scaleRefNotifyRate");
  const plain = v("scaleRefPlainRate");
  const parts = [];
  const busy = (p) => v(`${p}MachineCores`) / cores;
  const b1 = busy("scaleP1One");
  const b3 = busy("scaleP1Three");
  const who = (p) =>
    `servers ${c2(v(`${p}ServerCores`))}, clients ${c2(v(`${p}ClientCores`))}, Postgres ${c2(v(`${p}PostgresCores`))}`;
  if (b3 >= 0.9)
    parts.push(
      `CPU: the machine's ${cores} cores were ${pct(b1)} busy with 1 process and ${pct(b3)} with 3 (${who("scaleP1Three")} cores); servers, clients and Postgres share the same cores, so a second and third server process add no CPU, only more processes to schedule — the 3/1 ratio of ${(three / one).toFixed(2)}× says that, not how Kiln scales on separate machines.`,
    );
  else
    parts.push(
      `The machine was not saturated (${pct(b1)} / ${pct(b3)} of ${cores} cores busy with 1 / 3 processes).`,
    );
  const foreign = Math.max(other("scaleP1One"), other("scaleP1Three"));
  if (foreign > 0.2)
    parts.push(
      `Other work on the machine took up to ${c2(foreign)} cores during the P1 windows (the "other" column): the rates are lower than a quiet machine gives.`,
    );
  // CPU per accepted head update, and the rate those costs allow on this machine's cores
  const per = (p, side, rate) => (v(`${p}${side}Cores`) / rate) * 1000;
  const cost = (p, rate) => {
    const server = per(p, "Server", rate);
    const client = per(p, "Client", rate);
    const pg = per(p, "Postgres", rate);
    return { server, client, pg, cap: (cores * 1000) / (server + client + pg) };
  };
  const k1 = cost("scaleP1One", one);
  const k3 = cost("scaleP1Three", three);
  if (Number.isFinite(k1.cap) && Number.isFinite(k3.cap))
    parts.push(
      `CPU per accepted head update, 1 process → 3 processes: server side ${k1.server.toFixed(2)} → ${k3.server.toFixed(2)} ms, Postgres ${k1.pg.toFixed(2)} → ${k3.pg.toFixed(2)} ms, the Kiln clients (sealing the commit, sending it, handling the acknowledgement) ${k1.client.toFixed(2)} → ${k3.client.toFixed(2)} ms; ${cores} cores can pay for at most ~${n0(k1.cap)} → ~${n0(k3.cap)} updates/s at those costs, before anything else on the machine takes its share (~${n0((cores * 1000) / (k1.server + k1.pg))} → ~${n0((cores * 1000) / (k3.server + k3.pg))}/s for servers and Postgres alone, were the clients on other machines).${k3.server > k1.server * 1.15 ? " The server side (and Postgres) cost more per update with three processes than with one (measured, not profiled: each process also receives and discards the others' notices, Postgres delivers every notice to three LISTEN connections and serves three pools, and each process warms up and batches at a third of the load)." : ""}`,
    );
  if (ref !== undefined)
    parts.push(
      `Postgres's own ceiling for NOTIFY-ing commits, measured in the same run, is ${n0(ref)}/s (${n0(plain)}/s without NOTIFY; docs/deploy.md: a transaction that queues a notice holds a cluster-wide lock until its commit is flushed, so such commits cannot share a WAL flush). The 3-process rate is ${pct(three / ref)} of it${three / ref >= 0.75 ? ': close to that serialization, which no number of server processes lifts (docs/deploy.md, "What breaks at which size")' : ""}.`,
    );
  return parts.join(" ");
}
