// The fan-out run shared by S4 (one server) and the scale-out workload's P3 (several server
// processes on one Postgres): many Kiln replicas in a few client processes (fanout.mjs),
// each writing on a schedule; every write must reach every other client of its ledger.
// Only stamps the children take (timing.now()) are subtracted.
import { cpuOf, now, rssOf, summarize } from "./timing.mjs";

/**
 * @param spawn    (file, args, name) → child (rpc.mjs), owned and ended by the caller's run
 * @param servers  [{ pid }] the server processes, for RSS and CPU
 * @param urlsOf   client index → its server URLs (first used; the rest are failover)
 * @param fanout   { clients, ledgers, rate, seconds, procs, drainS, lateCapS }
 * @param prefix   ledger names are `${prefix}-${l}`
 * @param cpuProbes  extra { name: () => cumulative CPU seconds } sampled over the writing
 *                   (e.g. Postgres's processes); reported as cores[name]
 * Resolves with latencies, deliveries, per-server RSS and CPU, client CPU and lag.
 */
export async function runFanout({
  spawn,
  servers,
  urlsOf,
  seed,
  fanout,
  stepMs,
  prefix = "fan",
  cpuProbes = {},
  log,
}) {
  const { clients, ledgers, rate, seconds, procs, drainS, lateCapS } = fanout;
  const perClient = Math.max(1, Math.round(seconds * rate));
  const names = Array.from({ length: ledgers }, (_, l) => `${prefix}-${l}`);
  const ledgerOf = (c) => names[c % ledgers];
  const nProcs = Math.max(1, Math.min(procs, clients));
  const hosts = Array.from({ length: nProcs }, (_, p) =>
    spawn("fanout.mjs", [], `kiln fanout ${p}`),
  );
  const t0 = now();
  const { keys } = await hosts[0].call("makeKeys", { names }, stepMs);
  await Promise.all(
    hosts.map((h, p) => {
      const assigned = [];
      for (let c = p; c < clients; c += nProcs)
        assigned.push({
          c,
          ledger: ledgerOf(c),
          key: keys[ledgerOf(c)],
          urls: urlsOf(c),
        });
      return h.call("open", { assigned }, stepMs);
    }),
  );
  await Promise.all(hosts.map((h) => h.call("connect", {}, stepMs)));
  const setupMs = now() - t0;
  log?.(
    `${clients} clients on ${ledgers} ledgers connected over ${nProcs} processes to ${servers.length} server(s) in ${(setupMs / 1000).toFixed(1)} s; writing for ${seconds} s`,
  );

  // evenly spread phases, so the servers see a steady `clients × rate` writes/s
  const phases = Array.from(
    { length: clients },
    (_, c) => ((c * 1000) / rate / clients) % (1000 / rate),
  );
  const startAt = now() + 500;
  const cpu = () => ({
    servers: servers.map((s) => cpuOf(s.pid) ?? NaN),
    clients: hosts.reduce((a, h) => a + (cpuOf(h.pid) ?? NaN), 0),
    extra: Object.fromEntries(
      Object.entries(cpuProbes).map(([k, f]) => [k, f()]),
    ),
  });
  const cpuBefore = cpu();
  const peakRss = servers.map(() => 0);
  const sampleRss = () =>
    servers.forEach((s, i) => {
      const r = rssOf(s.pid);
      if (r?.rssMiB) peakRss[i] = Math.max(peakRss[i], r.rssMiB);
    });
  const sampler = setInterval(sampleRss, 1000);
  let ran;
  try {
    ran = await Promise.all(
      hosts.map((h) =>
        h.call(
          "run",
          {
            startAt,
            rate,
            seed,
            perClient,
            phases,
            lateCapMs: lateCapS * 1000,
          },
          (seconds + lateCapS) * 1000 + stepMs,
        ),
      ),
    );
  } finally {
    clearInterval(sampler);
  }
  const cpuAfter = cpu();
  const runS = (now() - startAt) / 1000;
  const cores = (before, after) => (after - before) / runS; // cores busy on average
  const skipped = ran.reduce((a, r) => a + r.skipped, 0);
  if (skipped)
    log?.(
      `the clients fell more than ${lateCapS} s behind schedule and skipped ${skipped} of ${clients * perClient} writes`,
    );

  // every client should see every write its ledger's other clients made
  const made = await Promise.all(
    hosts.map((h) => h.call("written", {}, stepMs)),
  );
  const perLedger = {}; // ledger → writes
  const ownCount = {}; // client → its writes
  for (const { written } of made)
    for (const [c, ledger, n] of written) {
      perLedger[ledger] = (perLedger[ledger] ?? 0) + n;
      ownCount[c] = n;
    }
  const expected = (c) => perLedger[ledgerOf(c)] - ownCount[c];
  let expectedTotal = 0;
  for (let c = 0; c < clients; c++) expectedTotal += expected(c);
  const deadline = now() + drainS * 1000;
  let received = 0;
  for (;;) {
    const all = await Promise.all(
      hosts.map((h) => h.call("counts", {}, stepMs)),
    );
    received = 0;
    let short = 0;
    for (const { counts } of all)
      for (const [c, n] of counts) {
        received += Math.min(n, expected(c));
        if (n < expected(c)) short++;
      }
    if (short === 0 || now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  sampleRss();
  const endRss = servers.map((s) => rssOf(s.pid));

  const collected = await Promise.all(
    hosts.map((h) => h.call("collect", {}, stepMs)),
  );
  const written = new Map(); // id → [t, ledger]
  for (const { clients: cs } of collected)
    for (const e of cs)
      for (const [id, t] of e.writes) written.set(id, [t, e.ledger]);
  const latencies = [];
  let foreign = 0;
  for (const { clients: cs } of collected)
    for (const e of cs)
      for (let i = 0; i < e.seenIds.length; i++) {
        const w = written.get(e.seenIds[i]);
        if (!w || w[1] !== e.ledger) {
          foreign++; // a doc this client should never see
          continue;
        }
        latencies.push(e.seenTs[i] - w[0]);
      }
  const l = summarize(latencies);
  return {
    p50: l.p50,
    p99: l.p99,
    max: l.max,
    /** Per server: peak RSS sampled each second, and the kernel's high-water mark. */
    serverRssMiB: peakRss.map((x) => x || undefined),
    serverPeakMiB: endRss.map((r) => r?.peakMiB),
    writes: written.size,
    deliveries: l.n,
    expected: expectedTotal,
    missing: expectedTotal - received,
    foreign,
    writerLateMs: Math.max(...ran.map((r) => r.maxLateMs)),
    skipped,
    loopDelayMaxMs: Math.max(...ran.map((r) => r.loopDelayMaxMs)),
    loopDelayP99Ms: Math.max(...ran.map((r) => r.loopDelayP99Ms)),
    serverCores: cpuAfter.servers.map((x, i) => cores(cpuBefore.servers[i], x)),
    clientCores: cores(cpuBefore.clients, cpuAfter.clients),
    cores: Object.fromEntries(
      Object.keys(cpuProbes).map((k) => [
        k,
        cores(cpuBefore.extra[k], cpuAfter.extra[k]),
      ]),
    ),
    procs: nProcs,
    setupMs,
    runS,
  };
}
