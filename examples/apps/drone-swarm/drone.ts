// What the simulator writes and the page reads. Each squad is a ledger; in it, one doc per
// drone (rewritten at every position fix) and one `stats` doc, the simulator's storage after
// its last compaction.
export interface DronePosition {
  /** The drone's number, 0-based across the swarm. */
  drone: number;
  /** Position in the unit square, and heading in radians. */
  x: number;
  y: number;
  heading: number;
  /** When the simulator wrote this fix (epoch ms): the page measures write → screen from it. */
  at: number;
}

export interface SquadStats {
  /** Bytes the squad's ledger held in the simulator's storage after its last compaction. */
  storedBytes: number;
  compactions: number;
  /** Position fixes written so far (one commit per squad per tick). */
  ticks: number;
  at: number;
}

export const STATS_ID = "stats";

/** The drone's id in its squad's ledger. */
export const droneId = (drone: number) =>
  `drone-${String(drone).padStart(3, "0")}`;

/** Where drone `n` of `total` is at time `t` (ms): each flies its own loop around the field. */
export function positionAt(
  n: number,
  total: number,
  t: number,
): Omit<DronePosition, "at"> {
  const phase = (2 * Math.PI * n) / Math.max(total, 1);
  const w = 0.0004 * (1 + (n % 7) / 7);
  const a = t * w + phase;
  const cx = 0.5 + 0.3 * Math.cos(phase);
  const cy = 0.5 + 0.3 * Math.sin(phase);
  const r = 0.08 + (0.04 * ((n * 13) % 5)) / 5;
  return {
    drone: n,
    x: cx + r * Math.cos(a),
    y: cy + r * Math.sin(a),
    heading: a + Math.PI / 2,
  };
}
