// The swarm's live view: every drone on a canvas, the write → screen latency of their fixes
// as a histogram, and each squad's sync state and storage. The viewer's token is read-only:
// the page pulls each squad's ledger (`direction: "pull"`) and writes nothing.
import { useState } from "react";
import type { UserConfig } from "../shared/user-config.js";
import { LatencyHistogram } from "./latency-histogram.js";
import { SquadFeed } from "./squad-feed.js";
import { SwarmCanvas } from "./swarm-canvas.js";
import { Telemetry } from "./telemetry.js";

export function App({ config }: { config: UserConfig }) {
  const [telemetry] = useState(() => new Telemetry());
  // For the benchmark (bench/drone-swarm.mjs): it reads the latency samples from here.
  Object.assign(window, { kilnSwarm: telemetry });
  return (
    <main className="wide">
      <header>
        <h1>Drone swarm</h1>
        <span className="who">{config.user} · read only</span>
      </header>
      <div className="layout">
        <SwarmCanvas telemetry={telemetry} />
        <LatencyHistogram telemetry={telemetry} />
      </div>
      <table className="squads">
        <thead>
          <tr>
            <th>squad</th>
            <th>sync</th>
            <th>drones</th>
            <th>last fix</th>
            <th>simulator storage</th>
            <th>this page's storage</th>
          </tr>
        </thead>
        <tbody>
          {config.ledgers.map((name) => (
            <SquadFeed
              key={name}
              name={name}
              config={config}
              telemetry={telemetry}
            />
          ))}
        </tbody>
      </table>
    </main>
  );
}
