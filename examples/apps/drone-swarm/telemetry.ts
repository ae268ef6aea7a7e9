// What the page knows of the swarm, outside React: each drone's latest position (the canvas
// reads it every frame) and the write → screen latency of every fix, in a histogram. A fix's
// latency is taken in the squad's `live` callback: now minus the time the simulator wrote it
// (same machine, same clock).
import type { DronePosition } from "./drone.js";

/** Upper bounds (ms) of the histogram's buckets; the last bucket takes the rest. */
export const BUCKETS = [5, 10, 20, 50, 100, 200, 500, 1000];

export class Telemetry {
  readonly positions = new Map<number, DronePosition & { squad: string }>();
  readonly counts = new Array<number>(BUCKETS.length + 1).fill(0);
  /** Every latency sample (ms) since the last reset, for the percentiles and the bench. */
  samples: number[] = [];

  /** A squad's live result: records each fix newer than the one shown. */
  record(squad: string, fixes: readonly DronePosition[], now = Date.now()) {
    for (const fix of fixes) {
      const shown = this.positions.get(fix.drone);
      if (shown && shown.at >= fix.at) continue;
      this.positions.set(fix.drone, { ...fix, squad });
      // Fixes already stored when the page opened are history, not latency.
      if (!shown && now - fix.at > 5_000) continue;
      const ms = Math.max(0, now - fix.at);
      this.samples.push(ms);
      let b = BUCKETS.findIndex((bound) => ms <= bound);
      if (b < 0) b = BUCKETS.length;
      this.counts[b]!++;
    }
  }

  /** The p-th percentile (0–100) of the samples, or undefined with none. */
  percentile(p: number): number | undefined {
    if (this.samples.length === 0) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[
      Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))
    ];
  }

  reset(): void {
    this.samples = [];
    this.counts.fill(0);
  }
}
