#!/usr/bin/env node
// The drone swarm's write → screen latency (`npx tsx bench/drone-swarm.mjs [seconds]
// [--screenshot]`): the simulator (100 drones in 10 squads at 5 Hz, push-only, this process)
// and the app's page in Chromium (pulling every squad through `kiln serve`) on this machine,
// as `npm run demo` runs them. After a warm-up, every fix the page's `live` callbacks see for
// `seconds` (default 30) is a sample: the callback's time minus the time the simulator wrote
// it. Prints p50 / p90 / p99 / max, fixes seen against fixes written, and the load average.
// Target (issue 12): p99 ≤ 100 ms.
import { loadavg } from "node:os";
import { APPS } from "../examples/apps/apps.ts";
import { startSwarm } from "../examples/apps/drone-swarm/simulator.ts";
import { startAppStack } from "../test/apps/app-stack.ts";

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 30);
const screenshot = process.argv.includes("--screenshot");
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
  const samples = await ops.page.evaluate(() => window.kilnSwarm.samples);
  const elapsed = (Date.now() - started) / 1000;
  if (screenshot)
    await ops.page.screenshot({ path: "docs/screenshots/drone-swarm.png" });
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p) =>
    sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const written = Math.round(100 * 5 * elapsed);
  console.log(
    [
      `drone swarm, 100 drones × 5 Hz in 10 squads, ${elapsed.toFixed(0)} s after a ${WARMUP_MS / 1000} s warm-up`,
      `fixes seen by the page: ${samples.length} of ~${written} written (a fix overwritten before the page's next live result is not seen)`,
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
