// One remote shared by the tabs of an origin: the seam a Connection uses so that only the tab
// leading its remote runs the session and drains the outbox, while the others follow. The
// browser binding (src/platform/web-tab-link.ts) leads with a Web Lock and talks over a
// BroadcastChannel; Node has no tabs and no link. docs/gateways.md ("Tabs").
import type { Transport } from "./remote.js";
import type { ConnectionStatus } from "./status-board.js";

/** What a leading tab tells the others about its connection. */
export interface LeaderReport {
  readonly status: "connecting" | "live" | "backoff";
  /** Set while live. */
  readonly transport?: Transport;
  /** The leader's unacknowledged commits, the other tabs' writes included once merged. */
  readonly pending: number;
}

export interface TabLink {
  /**
   * Resolves once this tab leads the remote, with the function that hands the lead on (call
   * it only after the outbox is saved). Rejects if `signal` aborts first.
   */
  lead(signal: AbortSignal): Promise<() => void>;
  /** Leader: tells the other tabs where it stands. */
  report(report: LeaderReport): void;
  /** Follower: hears the leader's reports (the current one at once, if there is a leader). */
  onReport(listener: (report: LeaderReport) => void): () => void;
  /**
   * Follower: asks the leader to sync (its `synced()`); resolves "done" when it has, or
   * "lead" when this tab became the leader meanwhile (then it syncs itself). Asked again of
   * each new leader until answered; rejects with the leader's failure.
   */
  requestSync(): Promise<"done" | "lead">;
  /** Leader: answers the other tabs' sync requests with `sync`. */
  serveSync(sync: () => Promise<void>): void;
  close(): void;
}

/** What a leader with this status and count reports; undefined once it is closing. */
export function leaderReport(
  status: ConnectionStatus,
  pending: number,
): LeaderReport | undefined {
  switch (status.kind) {
    case "connecting":
    case "backoff":
      return { status: status.kind, pending };
    case "live":
      return { status: "live", transport: status.transport, pending };
    default:
      return undefined;
  }
}

/** A follower's status, from its leader's report. */
export function followerStatus(report: LeaderReport): ConnectionStatus {
  return {
    kind: "follower",
    leader: report.status,
    ...(report.transport ? { transport: report.transport } : {}),
  };
}
