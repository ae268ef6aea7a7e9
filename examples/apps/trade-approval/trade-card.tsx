// One trade: its status, both decisions, and this user's actions. A dispute (one approver
// approved, the other rejected) is shown as a conflict for the approvers to resolve: either
// changes their decision, or the trader withdraws the trade.
import { useDoc } from "kiln/react";
import type { Ledger } from "kiln";
import type { UserConfig } from "../shared/user-config.js";
import { useDecisionSigners } from "./decision-signers.js";
import { statusOf } from "./trade.js";
import type { Decision, Trade } from "./trade.js";

export function TradeCard({
  ledger,
  id,
  config,
}: {
  ledger: Ledger<Trade> | undefined;
  id: string;
  config: UserConfig;
}) {
  const { doc: trade, save, error } = useDoc(ledger, id);
  const signers = useDecisionSigners(ledger, id, trade);
  if (!trade) return null;
  const status = statusOf(trade);
  const slot = config.role === "approver" ? config.slot : undefined;
  const mine = slot && trade[slot];
  const decide = (verdict: Decision["verdict"]) =>
    // Only this approver's field changes: a concurrent decision of the other one survives.
    void save((current) => ({
      ...current!,
      [slot!]: { by: config.user, verdict, at: Date.now() },
    }));
  const open = status.kind === "pending" || status.kind === "disputed";
  return (
    <article
      className={`trade ${status.kind}`}
      data-testid={`trade-${trade.symbol}`}
    >
      <h2>
        {trade.side} {trade.qty} {trade.symbol} @ {trade.price}
      </h2>
      <p className="status" data-testid="status">
        {label(status)}
      </p>
      <ul className="decisions">
        <DecisionLine decision={trade.first} signer={signers.first} />
        <DecisionLine decision={trade.second} signer={signers.second} />
      </ul>
      {status.kind === "disputed" && (
        <p className="conflict" role="alert">
          Conflict: {status.approved} approved, {status.rejected} rejected.
          Change a decision, or withdraw the trade.
        </p>
      )}
      {slot && open && (
        <div className="actions">
          <button
            disabled={mine?.verdict === "approve"}
            onClick={() => decide("approve")}
          >
            Approve
          </button>
          <button
            disabled={mine?.verdict === "reject"}
            onClick={() => decide("reject")}
          >
            Reject
          </button>
        </div>
      )}
      {config.role === "trader" && open && (
        <div className="actions">
          <button
            onClick={() =>
              void save((current) => ({ ...current!, withdrawn: true }))
            }
          >
            Withdraw
          </button>
        </div>
      )}
      <p className="by">
        proposed by {trade.proposedBy},{" "}
        {new Date(trade.proposedAt).toLocaleTimeString()}
      </p>
      {error instanceof Error && <p className="error">{error.message}</p>}
    </article>
  );
}

function DecisionLine({
  decision,
  signer,
}: {
  decision: Decision | undefined;
  signer: string | undefined;
}) {
  if (!decision) return <li className="waiting">waiting for an approver</li>;
  return (
    <li className={decision.verdict}>
      {decision.by} {decision.verdict === "approve" ? "approved" : "rejected"}
      {signer && (
        <code className="signer" title={signer} data-testid="signer">
          {" "}
          signed {signer.slice(0, 8)}…
        </code>
      )}
    </li>
  );
}

function label(status: ReturnType<typeof statusOf>): string {
  switch (status.kind) {
    case "pending":
      return `pending · ${status.decided}/2 decided`;
    case "executed":
      return "executed · both approved";
    case "rejected":
      return "rejected";
    case "disputed":
      return "conflict";
    case "withdrawn":
      return "withdrawn";
  }
}
