// The sync section of the report: its own table, since its systems differ from the local
// workloads' (automerge-repo and Yjs sync; Fireproof is not in it).
import { LABELS, fmt, median, ratio } from "../table.mjs";

/** Rows of the sync table; `better` orients the ratio so > 1 means Kiln is better. */
export const SYNC_METRICS = [
  {
    key: "syncS1P50Ms",
    scenario: "S1",
    label: (o) =>
      `S1. write on A → B's subscription fires, p50 (${o.writes} writes)`,
    unit: "ms",
    better: "lower",
  },
  {
    key: "syncS1P99Ms",
    scenario: "S1",
    label: (o) => `S1. … p99 (${o.writes} writes)`,
    unit: "ms",
    better: "lower",
  },
  {
    key: "syncS2Ms",
    scenario: "S2",
    label: (o) =>
      `S2. B offline while A writes ${o.docs.toLocaleString("en-US")} docs; B connects → has all`,
    unit: "ms",
    better: "lower",
    batchKey: "syncS2WriteBatch",
  },
  {
    key: "syncS3Ms",
    scenario: "S3",
    label: (o) =>
      `S3. A writes ${o.docs.toLocaleString("en-US")} docs offline, connects → server has all`,
    unit: "ms",
    better: "lower",
    batchKey: "syncS3WriteBatch",
  },
  {
    key: "syncS5Ms",
    scenario: "S5",
    label: (o) =>
      `S5. a new replica gets a ${o.docs.toLocaleString("en-US")}-doc ledger from a snapshot (synced, ms)`,
    unit: "ms",
    better: "lower",
    only: "kiln",
    batchKey: "syncS5WriteBatch",
  },
  {
    key: "syncS5AllReadMs",
    scenario: "S5",
    label: (o) =>
      `S5b. … until its subscription has read all ${o.docs.toLocaleString("en-US")} docs (ms)`,
    unit: "ms",
    better: "lower",
    only: "kiln",
  },
  {
    key: "fanoutP50Ms",
    scenario: "S4",
    lagged: true,
    label: (o) =>
      `S4. fan-out p50: ${o.fanout.clients} clients on ${o.fanout.ledgers} ledgers, ${o.fanout.rate} writes/s each for ${o.fanout.seconds} s`,
    unit: "ms",
    only: "kiln",
  },
  {
    key: "fanoutP99Ms",
    scenario: "S4",
    lagged: true,
    label: () => "S4. … fan-out p99",
    unit: "ms",
    only: "kiln",
  },
  {
    key: "fanoutServerRssMiB",
    scenario: "S4",
    label: () => "S4. server RSS (peak, sampled each second)",
    unit: "MiB",
    only: "kiln",
  },
  {
    key: "fanoutWriterLateMs",
    scenario: "S4",
    label: () => "S4. writers' worst lag behind their schedule (client CPU)",
    unit: "ms",
    only: "kiln",
  },
  {
    key: "fanoutSkipped",
    scenario: "S4",
    label: (o) =>
      `S4. writes skipped (a client > ${o.fanout.lateCapS} s behind stops)`,
    unit: "docs",
    only: "kiln",
    exact: true,
  },
  {
    key: "fanoutServerCores",
    scenario: "S4",
    label: () => "S4. CPU of the server process while writing (cores busy)",
    unit: "cores",
    only: "kiln",
  },
  {
    key: "fanoutClientCores",
    scenario: "S4",
    label: (o) =>
      `S4. CPU of the ${o.fanout.procs} client processes while writing (cores busy)`,
    unit: "cores",
    only: "kiln",
  },
  {
    key: "fanoutMissing",
    scenario: "S4",
    label: () =>
      "S4. deliveries missing (checked: every write, every subscriber)",
    unit: "docs",
    only: "kiln",
    exact: true,
  },
];

/** Raw values kept per run (the table's keys plus the untimed side numbers). */
export const SYNC_RAW_KEYS = [
  ...SYNC_METRICS.map((m) => m.key),
  "syncS1MeanMs",
  "syncS1MaxMs",
  "syncS2WriteMs",
  "syncS2ServerRssMiB",
  "syncS3WriteMs",
  "syncS3CheckMs",
  "fanoutMaxMs",
  "fanoutServerPeakMiB",
  "fanoutWrites",
  "fanoutDeliveries",
  "fanoutExpected",
  "fanoutForeign",
  "fanoutLoopDelayP99Ms",
  "fanoutLoopDelayMaxMs",
];

function fmtRatio(r) {
  if (r === undefined) return "—";
  return (r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(3)) + "×";
}

/**
 * @param results  { [system]: { [key]: number[], errors: { [`sync${scenario}`]: string } } }
 * @param opts     { systems, skipped, sync: { scenarios, writes, docs, fanout } }
 */
export function renderSyncTable(results, opts) {
  const { systems, skipped = {}, sync } = opts;
  const peers = systems.filter((s) => s !== "kiln");
  const cols = [
    "workload",
    "unit",
    ...systems.map((s) => LABELS[s]),
    ...(systems.includes("kiln") ? peers.map((p) => `Kiln/${LABELS[p]}`) : []),
  ];
  const lines = [
    `| ${cols.join(" | ")} |`,
    `|${cols.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`,
  ];
  const footnotes = new Set();
  const lag = median(results.kiln?.fanoutWriterLateMs ?? []);
  const lagged = lag !== undefined && lag > 1000;
  const shown = SYNC_METRICS.filter(
    (x) =>
      sync.scenarios.includes(x.scenario) &&
      (!x.only || systems.includes(x.only)),
  );
  for (const m of shown) {
    const med = Object.fromEntries(
      systems.map((s) => [s, median(results[s]?.[m.key] ?? [])]),
    );
    const cells = systems.map((s) => {
      if (skipped[s])
        return /sync not available/.test(skipped[s])
          ? "sync not available"
          : "not run";
      if (m.only && s !== m.only) return "n/a";
      if (med[s] === undefined)
        return results[s]?.errors?.[`sync${m.scenario}`] ? "error" : "—";
      let text = m.exact
        ? med[s].toLocaleString("en-US")
        : m.unit === "cores"
          ? med[s].toFixed(2)
          : fmt(med[s], m.unit);
      if (m.lagged && lagged) text += "‖";
      const batch = m.batchKey && median(results[s]?.[m.batchKey] ?? []);
      if (batch && batch > 1) {
        text += ` (${batch}/write)¶`;
        footnotes.add(
          `¶ written ${batch} docs per write call (one Automerge change per ${batch} docs: a change to a ${sync.docs.toLocaleString("en-US")}-key document costs O(n), ~60 s for one change per doc; BENCH_AM_BATCH). Fewer, larger changes to sync: this favours that system.`,
        );
      }
      return text;
    });
    const ratios = systems.includes("kiln")
      ? peers.map((p) =>
          m.only || !m.better
            ? "—"
            : fmtRatio(ratio(med.kiln, med[p], m.better)),
        )
      : [];
    lines.push(
      `| ${[m.label(sync), m.unit, ...cells, ...ratios].join(" | ")} |`,
    );
  }
  if (lagged)
    footnotes.add(
      `‖ S4: the writers fell up to ${(lag / 1000).toFixed(1)} s behind their schedule: the client side (${sync.fanout.clients} Kiln replicas on this machine, decrypting and merging every write of their ledger) was short of CPU, so the fan-out latencies include client-side queueing, not only the server's. Compare the CPU rows; fewer clients (BENCH_FANOUT_CLIENTS, BENCH_FANOUT_LEDGERS) or another machine for the clients separate the two.`,
    );
  return { table: lines.join("\n"), footnotes: [...footnotes] };
}

/** "How each number is taken" for the sync section. */
export function syncNotes(sync, systems) {
  const f = sync.fanout;
  const notes = [
    `- Every scenario run starts its own server process and one process per client (A, B), all on 127.0.0.1, and ends them after. Times are stamped in the process where the event happens, on the machine's monotonic clock (\`process.hrtime\`, shared by all processes), so no IPC hop is on the clock. Replicas and servers keep everything in memory (Kiln \`memory://\` replicas and \`kiln serve --storage memory://\`; PouchDB's memory adapter on both sides; automerge-repo and Yjs without storage adapters).`,
    `- S1: A and B connected and caught up; A writes one doc, B's change subscription (Kiln \`subscribe\`, PouchDB \`changes({ live })\`, automerge \`handle.on("change")\`, Yjs \`Y.Map.observe\`) reports it; latency = B's stamp − A's stamp before the write call. Closed loop: the next write starts when B has the last one. ${sync.warmup} untimed warm-up writes first, then ${sync.writes} timed.`,
    `- S2: A connected; A writes ${sync.docs.toLocaleString("en-US")} docs (one per write call unless marked ¶, each awaited, not timed) and the server has them all (Kiln: A's \`conn.synced()\`; peers: the server process counts them); then B opens an empty replica in its own process (untimed) and connects: time from B's \`connect()\` (PouchDB \`sync\`, automerge adding the network adapter + \`find\`, Yjs \`WebsocketProvider\`) to its subscription having reported all ${sync.docs.toLocaleString("en-US")} docs; B's doc count is checked.`,
    `- S3: A writes the same docs with no connection (not timed), then connects: time until the server has all of them — for Kiln until A's \`conn.synced()\` resolves with \`pending\` 0 (the server's acknowledgement, back at A); for the peers, which have no such acknowledgement, until the server process has counted all docs (a change feed / change event / Y.Map observer in the server process, counted once per burst). ${sync.verify ? "Then a fresh replica B catches up from the server and its count is checked (untimed; raw value syncS3CheckMs)." : ""}`,
  ];
  if (sync.scenarios.includes("S4") && systems.includes("kiln"))
    notes.push(
      `- S4 (Kiln only): one \`kiln serve\` process; ${f.clients} memory:// replicas, each with its own WebSocket connection, spread over ${f.procs} client processes; client c is on ledger c mod ${f.ledgers} (all replicas of a ledger share its key). Each writes ${f.rate} docs/s for ${f.seconds} s at evenly spread phases; fan-out latency = a subscriber's arrival stamp − the writer's stamp before its put, over every (write, other subscriber of its ledger) pair. After the writes, up to ${f.drainS} s for the last deliveries; "missing" counts the pairs never delivered. Server RSS from /proc, sampled every second.`,
    );
  return notes;
}
