// Medians, ratios, targets and the Markdown report.

export const SYSTEMS = ["kiln", "pouchdb", "fireproof", "automerge", "yjs"];
export const LABELS = {
  kiln: "Kiln",
  pouchdb: "PouchDB",
  fireproof: "Fireproof",
  automerge: "automerge-repo",
  yjs: "Yjs",
};
/** Systems of the local workloads (systems/NAME.mjs) and of `sync` (sync/adapters/NAME.mjs). */
export const LOCAL_SYSTEMS = ["kiln", "pouchdb", "fireproof"];
export const SYNC_SYSTEMS = ["kiln", "pouchdb", "automerge", "yjs"];

/**
 * The rows of the table. `better` orients the ratio: for "higher" it is Kiln/peer, for
 * "lower" peer/Kiln, so a ratio > 1 always means Kiln is better. `target` is the
 * required Kiln-vs-PouchDB ratio from the issue.
 */
export const METRICS = [
  {
    key: "seqPut",
    workload: "write",
    label: "1. sequential put (each awaited)",
    unit: "docs/s",
    better: "higher",
    target: 3,
  },
  {
    key: "bulk",
    workload: "bulk",
    label: "2. bulk put, 100 docs a batch",
    unit: "docs/s",
    better: "higher",
    target: 2,
  },
  {
    key: "get",
    workload: "get",
    label: "3. get by id, random order",
    unit: "gets/s",
    better: "higher",
    target: 10,
  },
  {
    key: "reopenMs",
    workload: "reopen",
    label: "4. cold reopen + first get (fresh process)",
    unit: "ms",
    better: "lower",
    target: 1,
  },
  {
    key: "diskBefore",
    workload: "write",
    label: "5a. disk per doc after writes (du)",
    unit: "B/doc",
    better: "lower",
    target: 3,
  },
  {
    key: "diskAfter",
    workload: "write",
    label: "5b. disk per doc after compaction (du)",
    unit: "B/doc",
    better: "lower",
    target: 3,
  },
  {
    key: "rssGrowthMiB",
    workload: "write",
    label: "6. RSS growth while writing",
    unit: "MiB",
    better: "lower",
    target: 1,
  },
  // query group: `vs` names the peer of the ratio target, `max` an absolute bound on Kiln,
  // `nKey` the option whose count (repeats, cycles) a cell's n is compared with
  {
    key: "queryFirstMs",
    workload: "query",
    label: 'Q1. first query `status = "open"` incl. index build',
    unit: "ms",
    better: "lower",
    target: 10,
  },
  {
    key: "queryRepeatMs",
    workload: "query",
    label: "Q2. repeat query (median)",
    unit: "ms",
    better: "lower",
    target: 50,
    max: 5,
    nKey: "repeats",
  },
  {
    key: "queryCycleMs",
    workload: "query",
    label: "Q3. put one doc (status change) + query, per cycle",
    unit: "ms",
    better: "lower",
    target: 20,
    vs: "fireproof",
    nKey: "cycles",
  },
  {
    key: "queryLimitMs",
    workload: "queryLimit",
    group: "query",
    label: (o) =>
      `Q4. query limit ${o.query?.limit ?? 10} on ${(o.query?.limitSize ?? 100000).toLocaleString("en-US")} docs (median)`,
    unit: "ms",
    better: "lower",
    max: 2,
    only: "kiln",
  },
  {
    key: "queryRows",
    workload: "query",
    label: "Q. rows returned by Q1–Q3 (checked)",
    unit: "rows",
    same: true,
  },
];

export function median(xs) {
  const v = xs
    .filter((x) => typeof x === "number" && Number.isFinite(x))
    .sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function fmt(x, unit) {
  if (x === undefined) return "—";
  if (unit === "MiB") return x.toFixed(1);
  if (unit === "ms")
    return x < 1
      ? x.toFixed(3)
      : x < 10
        ? x.toFixed(2)
        : x < 100
          ? x.toFixed(1)
          : Math.round(x).toLocaleString("en-US");
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString("en-US");
  return x.toFixed(1);
}

/** Kiln-vs-peer ratio, oriented so > 1 means Kiln is better. */
export function ratio(kiln, peer, better) {
  if (kiln === undefined || peer === undefined) return undefined;
  if (better === "higher") return peer > 0 ? kiln / peer : undefined;
  if (kiln <= 0) return peer > kiln ? Infinity : undefined; // e.g. RSS that shrank
  return peer / kiln;
}

function fmtRatio(r) {
  if (r === undefined) return "—";
  if (r === Infinity) return "∞";
  return (r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(3)) + "×";
}

/**
 * Whether Kiln meets `target` against its peer (`vs`, default PouchDB) and its absolute
 * bound `max`; compares raw values so signs can't trick it. "—" when a number is missing.
 */
function targetMet(med, m) {
  const kiln = med.kiln;
  if (m.same) {
    const v = Object.values(med).filter((x) => x !== undefined);
    if (v.length < 2) return "—";
    return v.every((x) => x === v[0]) ? "✅ yes" : "❌ no";
  }
  if (kiln === undefined) return "—";
  let ok = true;
  if (m.target !== undefined) {
    const peer = med[m.vs ?? "pouchdb"];
    if (peer === undefined) return "—";
    ok &&=
      m.better === "higher" ? kiln >= m.target * peer : kiln * m.target <= peer;
  }
  if (m.max !== undefined) ok &&= kiln < m.max;
  return ok ? "✅ yes" : "❌ no";
}

function targetText(m) {
  if (m.same) return "equal in every system";
  const parts = [];
  if (m.target !== undefined) {
    const peer = LABELS[m.vs ?? "pouchdb"];
    parts.push(
      m.better === "higher"
        ? `≥ ${m.target}× ${peer}`
        : m.target === 1
          ? `≤ ${peer}`
          : `≤ 1/${m.target} of ${peer}`,
    );
  }
  if (m.max !== undefined) parts.push(`< ${m.max} ${m.unit}`);
  return parts.join(" and ") || "—";
}

/**
 * @param results  { [system]: { [metricKey]: number[] } } plus counts { [system]: { [metricKey]: number } }
 * @param opts     { systems: string[], docs: number, scale: { sizes, puts, rows } }
 */
export function renderTable(results, counts, opts) {
  const peers = opts.systems.filter((s) => s !== "kiln");
  const cols = [
    "workload",
    "unit",
    ...opts.systems.map((s) => LABELS[s]),
    ...peers.map((p) => `Kiln/${LABELS[p]}`),
    "target",
    "target met?",
  ];
  const lines = [
    `| ${cols.join(" | ")} |`,
    `|${cols.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`,
  ];
  const footnotes = new Set();

  for (const m of METRICS.filter(
    (x) => !opts.workloads || opts.workloads.includes(x.group ?? x.workload),
  )) {
    const med = Object.fromEntries(
      opts.systems.map((s) => [s, median(results[s]?.[m.key] ?? [])]),
    );
    const cells = opts.systems.map((s) => {
      if (opts.skipped?.[s]) return "not run";
      if (m.only && s !== m.only) return "n/a";
      if (
        med[s] === undefined &&
        m.key === "reopenMs" &&
        results[s]?.reopenOpenOnlyMs?.length
      ) {
        footnotes.add(
          "‡ the open succeeded but the first get failed (see Errors): only the open is timed, so no ratio.",
        );
        return `get failed‡ (open: ${fmt(median(results[s].reopenOpenOnlyMs), "ms")})`;
      }
      if (med[s] === undefined && results[s]?.errors?.[m.workload])
        return "error";
      let text = fmt(med[s], m.unit);
      const n = counts[s]?.[m.key];
      if (m.nKey) {
        const want = opts.query?.[m.nKey];
        if (med[s] !== undefined && n !== undefined && n !== want) {
          text += ` (n=${n})§`;
          footnotes.add(
            `§ Q2/Q3: a query returning ~5,000 docs takes PouchDB ~1–2 s and Fireproof ~5–10 s, so they time fewer repeats/cycles than Kiln (${opts.query.repeats}/${opts.query.cycles}; n shown; BENCH_POUCH_QREPEATS, BENCH_POUCH_QCYCLES, BENCH_FP_QREPEATS, BENCH_FP_QCYCLES).`,
          );
        }
      } else if (
        m.workload !== "query" &&
        m.workload !== "queryLimit" &&
        med[s] !== undefined &&
        n !== undefined &&
        n !== opts.docs
      ) {
        text += ` (n=${n})†`;
        footnotes.add(
          m.key === "get"
            ? `† gets: ${n.toLocaleString("en-US")} of the ${opts.docs.toLocaleString("en-US")} docs timed, in the same seeded random order over the full store (Fireproof reads ~500 docs/s; BENCH_FP_GETS changes it).`
            : `† writes: measured on ${n.toLocaleString("en-US")} docs instead of ${opts.docs.toLocaleString("en-US")}: sequential puts in Fireproof run at ~70–100 docs/s (BENCH_FP_SEQ changes it). Per-doc disk and RSS at a smaller n are not strictly comparable.`,
        );
      }
      return text;
    });
    const ratios = peers.map((p) =>
      m.same || m.only ? "—" : fmtRatio(ratio(med.kiln, med[p], m.better)),
    );
    // a ratio target needs its peer in the run; an absolute bound only Kiln
    const shown =
      m.target === undefined ||
      m.same ||
      opts.systems.includes(m.vs ?? "pouchdb");
    const label = typeof m.label === "function" ? m.label(opts) : m.label;
    lines.push(
      `| ${[label, m.unit, ...cells, ...ratios, shown ? targetText(m) : "—", shown ? targetMet(med, m) : "—"].join(" | ")} |`,
    );
  }

  // workload 7: put rate as the ledger grows (Kiln; peers only with BENCH_SCALE_PEERS=1)
  const { sizes, puts } = opts.scale ?? {};
  if (sizes?.length) {
    const rate = (s, size) => median(results[s]?.[`scalePut@${size}`] ?? []);
    for (const size of sizes) {
      const cells = opts.systems.map((s) => {
        if (opts.skipped?.[s]) return "not run";
        const v = rate(s, size);
        if (v === undefined && results[s]?.errors?.[`scale@${size}`])
          return "error";
        const n = counts[s]?.[`scalePut@${size}`];
        return (
          fmt(v, "docs/s") +
          (v !== undefined && n !== undefined && n !== puts ? ` (n=${n})` : "")
        );
      });
      const ratios = peers.map((p) =>
        fmtRatio(ratio(rate("kiln", size), rate(p, size), "higher")),
      );
      lines.push(
        `| ${[`7. put at ledger size ${size.toLocaleString("en-US")} (${puts.toLocaleString("en-US")} puts)`, "docs/s", ...cells, ...ratios, "—", "—"].join(" | ")} |`,
      );
    }
    if (sizes.length >= 2) {
      const lo = sizes[0];
      const hi = sizes[sizes.length - 1];
      const slow = (s) => {
        const a = rate(s, lo);
        const b = rate(s, hi);
        return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
      };
      // O(log n): the cost ratio should stay near log(hi)/log(lo); allow 25% slack for noise
      const bound = (Math.log(hi) / Math.log(lo)) * 1.25;
      const k = slow("kiln");
      const cells = opts.systems.map((s) =>
        slow(s) === undefined ? "—" : slow(s).toFixed(2) + "×",
      );
      lines.push(
        `| ${[`7. slowdown ${lo.toLocaleString("en-US")} → ${hi.toLocaleString("en-US")} docs (put rate ratio)`, "×", ...cells, ...peers.map(() => "—"), `Kiln ≤ ${bound.toFixed(2)}× (O(log n))`, k === undefined ? "—" : k <= bound ? "✅ yes" : "❌ no"].join(" | ")} |`,
      );
    }
  }
  return { table: lines.join("\n"), footnotes: [...footnotes] };
}

/** A raw value: counts (integers without a unit) as they are, the rest as `fmt` does. */
function show(x, unit) {
  if (unit === "cores") return x.toFixed(2);
  return unit === "" && Number.isInteger(x)
    ? x.toLocaleString("en-US")
    : fmt(x, unit);
}

/** Per-run raw values, for the record (`opts.extraKeys`: more keys, e.g. the sync ones). */
export function renderRuns(results, opts) {
  const keys = [
    ...METRICS.map((m) => m.key),
    ...(opts.scale?.sizes ?? []).map((s) => `scalePut@${s}`),
    "diskBeforeApparent",
    "diskAfterApparent",
    "peakRssGrowthMiB",
    "compactMs",
    "importMs@reopen",
    "reopenOpenOnlyMs",
    "queryRepeatMinMs",
    "queryLimitBuildMs",
    "queryLimitMinMs",
    ...(opts.extraKeys ?? []),
  ];
  // plus every close() time that was recorded (not timed in any workload)
  for (const s of opts.systems)
    for (const k of Object.keys(results[s] ?? {}))
      if (k.startsWith("closeMs@") && !keys.includes(k)) keys.push(k);
  const lines = ["| system | metric | runs | median |", "|---|---|---|---:|"];
  for (const s of opts.systems) {
    for (const k of keys) {
      const v = results[s]?.[k];
      if (!v?.length) continue;
      const unit =
        k.endsWith("Ms") || k.includes("Ms@")
          ? "ms"
          : k.endsWith("MiB")
            ? "MiB"
            : k.endsWith("Cores")
              ? "cores"
              : "";
      lines.push(
        `| ${LABELS[s]} | ${k} | ${v.map((x) => show(x, unit)).join(", ")} | ${show(median(v), unit)} |`,
      );
    }
  }
  return lines.join("\n");
}
