// A connection's state as a badge: live, connecting or in backoff, and how many commits wait
// to be sent.
import type { ConnectionState } from "kiln/react";

export function SyncBadge({
  state,
  label,
  testId = "sync",
}: {
  state: ConnectionState;
  label?: string;
  testId?: string;
}) {
  return (
    <span className={`sync ${state.status.kind}`} data-testid={testId}>
      {label ? `${label} ` : ""}
      {state.status.kind}
      {state.pending > 0 ? ` · ${state.pending} to send` : ""}
    </span>
  );
}
