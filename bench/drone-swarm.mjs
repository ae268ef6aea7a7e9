#!/usr/bin/env node
// The drone swarm's write → screen latency (`npx tsx bench/drone-swarm.mjs [seconds]
// [--screenshot]`): the simulator (100 drones in 10 squads at 5 Hz, push-only, this process)
// and the app's page in Chromium (pulling every squad through `kiln serve`) on this machine,
// as `npm run demo` runs them. After a warm-up, every fix the page's `live` callbacks see for
// `seconds` (default 30) is a sample: the callback's time minus the time the simulator wrote
// it. Prints p50 / p90 / p99 / max, fixes seen against fixes written, and the load average.
// Target (issue 12): p99 ≤ 100 ms. With --node, the readers are Node ledgers in this
// process instead of the page (the same Telemetry, pulling each squad on memory storage):
// the latency without the browser, to tell the page's share from the rest.
import { loadavg } from "node:os";
import { APPS } from "../examples/apps/apps.ts";
import { startSwarm } from "../examples/apps/drone-swarm/simulator.ts";
import { Telemetry } from "../examples/apps/drone-swarm/telemetry.ts";
import { keyFor } from "../examples/apps/shared/user-config.ts";
import { openLedger } from "../src/index.ts";
import { startAppStack } from "../test/apps/app-stack.ts";

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 30);
const screenshot = process.argv.includes("--screenshot");
const inNode = process.argv.includes("--node");

/** Node readers of every squad, as the page reads them; returns their telemetry. */
async function nodeReaders(config) {
  const telemetry = new Telemetry();
  const ledgers = [];
  for (const name of config.ledgers) {
    const ledger = await openLedger(name, {
      storage: `memory://bench-reader-${process.pid}`,
      key: keyFor(config, name),
    });
    ledger.connect(config.serverUrl, {
      token: config.token,
      direction: "pull",
    });
    await ledger.connections[0].synced();
    ledger.live("drone", {}, ({ rows }) =>
      telemetry.record(
        name,
        rows.flatMap((r) => (r.doc && "drone" in r.doc ? [r.doc] : [])),
      ),
    );
    ledgers.push(ledger);
  }
  return {
    telemetry,
    close: () => Promise.all(ledgers.map((l) => l.close())),
  };
}
const WARMUP_MS = 5_000;

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
const loadBefore = load();
const stack = await startAppStack("drone-swarm", APPS["drone-swarm"]);
const errors = [];
const swarm = await startSwarm(stack.configs.simulator, {
  drones: 100,
  hz: 5,
  onError: (e) => errors.push(e),
});
try {
  let samples;
  let elapsed;
  if (inNode) {
    const readers = await nodeReaders(stack.configs.ops);
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    readers.telemetry.reset();
    const started = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    samples = readers.telemetry.samples;
    elapsed = (Date.now() - started) / 1000;
    await readers.close();
  } else {
    const ops = await stack.open("ops");
    for (const squad of swarm.squads)
      await ops.page
        .getByTestId(`squad-${squad}`)
        .getByTestId("sync")
        .filter({ hasText: "live" })
        .waitFor({ timeout: 60_000 });
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    await ops.page.evaluate(() => window.kilnSwarm.reset());
    const started = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    samples = await ops.page.evaluate(() => window.kilnSwarm.samples);
    elapsed = (Date.now() - started) / 1000;
    if (screenshot)
      await ops.page.screenshot({ path: "docs/screenshots/drone-swarm.png" });
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p) =>
    sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const written = Math.round(100 * 5 * elapsed);
  console.log(
    [
      `drone swarm, 100 drones × 5 Hz in 10 squads, ${elapsed.toFixed(0)} s after a ${WARMUP_MS / 1000} s warm-up`,
      `readers: ${inNode ? "Node ledgers in the simulator's process" : "the app's page in Chromium"}`,
      `fixes seen: ${samples.length} of ~${written} written (a fix overwritten before the page's next live result is not seen)`,
      `write → live callback: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms, max ${sorted.at(-1)} ms`,
      `simulator storage, squad-0: ${JSON.stringify(swarm.stats("squad-0") ?? "no compaction yet")}`,
      `load average before: ${loadBefore}; after: ${load()} (2 cores)`,
      `background errors: ${errors.length}${errors.length ? ` (first: ${errors[0]})` : ""}`,
    ].join("\n"),
  );
} finally {
  await swarm.stop();
  await stack.close();
}
