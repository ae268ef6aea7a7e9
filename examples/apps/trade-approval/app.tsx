// The approval board: every user sees every trade live; the trader proposes, each approver
// decides in their own field, and a trade with both approvals is executed.
import { useLedger, useConnection, useLiveQuery } from "kiln/react";
import { SyncBadge } from "../shared/sync-badge.js";
import { useWriter } from "../shared/use-writer.js";
import { keyFor } from "../shared/user-config.js";
import type { UserConfig } from "../shared/user-config.js";
import { ProposeForm } from "./propose-form.js";
import { TradeCard } from "./trade-card.js";
import { tradeSchema } from "./trade.js";

export function App({ config }: { config: UserConfig }) {
  const ledger = useLedger("trades", {
    storage: config.storage,
    key: keyFor(config, "trades"),
    schema: tradeSchema,
  });
  const sync = useConnection(ledger, config.serverUrl, { token: config.token });
  const writer = useWriter(config.storage);
  const { rows } = useLiveQuery(ledger, "proposedAt", { descending: true });
  return (
    <main>
      <header>
        <h1>Trade approval</h1>
        <span className="who" title={writer}>
          {config.user} · {config.role}
          {writer && <code data-testid="writer"> · {writer.slice(0, 8)}…</code>}
        </span>
        <SyncBadge state={sync} />
      </header>
      {config.role === "trader" && ledger && (
        <ProposeForm ledger={ledger} user={config.user} />
      )}
      <section className="trades">
        {rows.length === 0 && <p className="empty">No trades yet.</p>}
        {rows.map((row) => (
          <TradeCard key={row.id} ledger={ledger} id={row.id} config={config} />
        ))}
      </section>
    </main>
  );
}
