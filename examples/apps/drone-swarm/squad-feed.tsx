// One squad: its ledger, pulled from kiln serve with the viewer's read-only token, followed
// with `live()` into the telemetry; a table row with its sync state, its last fix and the
// storage of both sides. The page compacts its own replica on a rule too, so a page left
// open for an hour holds the drones' latest fixes, not every fix ever flown.
import { useConnection, useDoc, useLedger } from "kiln/react";
import { useEffect, useState } from "react";
import { SyncBadge } from "../shared/sync-badge.js";
import type { UserConfig } from "../shared/user-config.js";
import { keyFor } from "../shared/user-config.js";
import { STATS_ID } from "./drone.js";
import type { DronePosition, SquadStats } from "./drone.js";
import type { Telemetry } from "./telemetry.js";

const COMPACT_EVERY_MS = 30_000;

export function SquadFeed({
  name,
  config,
  telemetry,
}: {
  name: string;
  config: UserConfig;
  telemetry: Telemetry;
}) {
  const ledger = useLedger<DronePosition | SquadStats>(name, {
    storage: config.storage,
    key: keyFor(config, name),
  });
  const sync = useConnection(ledger, config.serverUrl, {
    token: config.token,
    direction: "pull",
  });
  const { doc: stats } = useDoc(ledger, STATS_ID);
  const [last, setLast] = useState<{ at: number; drones: number }>();
  const [ownBytes, setOwnBytes] = useState<number>();

  useEffect(() => {
    if (!ledger) return;
    // The index "drone" holds the drone docs (the stats doc has no such field).
    const live = ledger.live("drone", {}, ({ rows }) => {
      const fixes = rows.flatMap((r) =>
        r.doc && "drone" in r.doc ? [r.doc] : [],
      );
      telemetry.record(name, fixes);
      if (fixes.length > 0)
        setLast({
          at: Math.max(...fixes.map((f) => f.at)),
          drones: fixes.length,
        });
    });
    const measure = () =>
      void ledger.storedBytes().then(setOwnBytes, () => undefined);
    measure();
    const sizes = setInterval(measure, 2_000);
    const compaction = setInterval(
      () => void ledger.compact().then(measure, () => undefined),
      COMPACT_EVERY_MS,
    );
    return () => {
      live.stop();
      clearInterval(sizes);
      clearInterval(compaction);
    };
  }, [ledger, name, telemetry]);

  const simBytes =
    stats && "storedBytes" in stats ? stats.storedBytes : undefined;
  return (
    <tr data-testid={`squad-${name}`} data-last={last?.at ?? 0}>
      <td>{name}</td>
      <td>
        <SyncBadge state={sync} />
      </td>
      <td data-testid="drones">{last?.drones ?? 0}</td>
      <td>{last ? new Date(last.at).toLocaleTimeString() : "–"}</td>
      <td data-testid="sim-bytes">{kib(simBytes)}</td>
      <td data-testid="own-bytes">{kib(ownBytes)}</td>
    </tr>
  );
}

const kib = (bytes: number | undefined) =>
  bytes === undefined ? "–" : `${(bytes / 1024).toFixed(1)} KiB`;
