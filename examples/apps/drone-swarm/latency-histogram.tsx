// Write → screen latency as a histogram (the telemetry's buckets), with p50 and p99,
// refreshed twice a second.
import { useEffect, useState } from "react";
import { BUCKETS } from "./telemetry.js";
import type { Telemetry } from "./telemetry.js";

export function LatencyHistogram({ telemetry }: { telemetry: Telemetry }) {
  const [, refresh] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => refresh((n) => n + 1), 500);
    return () => clearInterval(timer);
  }, []);
  const max = Math.max(1, ...telemetry.counts);
  const p50 = telemetry.percentile(50);
  const p99 = telemetry.percentile(99);
  return (
    <figure className="histogram">
      <figcaption data-testid="latency">
        write → screen: {telemetry.samples.length} fixes
        {p50 !== undefined && ` · p50 ${p50} ms · p99 ${p99} ms`}
      </figcaption>
      <div className="bars">
        {telemetry.counts.map((count, i) => (
          <div key={i} className="bar">
            <span
              style={{ height: `${(100 * count) / max}%` }}
              title={String(count)}
            />
            <label>
              {i < BUCKETS.length ? `≤${BUCKETS[i]}` : `>${BUCKETS.at(-1)}`}
            </label>
          </div>
        ))}
      </div>
    </figure>
  );
}
