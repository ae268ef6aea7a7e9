// A supply-chain tracker for three partners. Each partner syncs two ledgers, and only the two
// their token opens: the shared `shipments` (shipments and their custody events) and their
// own `private-<name>` (notes no other partner can read — the other partners have neither
// its key nor a token for it). A shipment's page (#<id>) shows its full custody trail.
import { useLedger, useConnection, useLiveQuery } from "kiln/react";
import { useSyncExternalStore } from "react";
import { SyncBadge } from "../shared/sync-badge.js";
import { useWriter } from "../shared/use-writer.js";
import { keyFor } from "../shared/user-config.js";
import type { UserConfig } from "../shared/user-config.js";
import { NewShipment } from "./new-shipment.js";
import { noteSchema } from "./note.js";
import { shippingDocSchema } from "./shipment.js";
import { ShipmentLink, ShipmentPage } from "./shipment-page.js";

export function App({ config }: { config: UserConfig }) {
  const privateName = `private-${config.user}`;
  const shipments = useLedger("shipments", {
    storage: config.storage,
    key: keyFor(config, "shipments"),
    schema: shippingDocSchema,
  });
  const notes = useLedger(privateName, {
    storage: config.storage,
    key: keyFor(config, privateName),
    schema: noteSchema,
  });
  const token = { token: config.token };
  const shared = useConnection(shipments, config.serverUrl, token);
  const own = useConnection(notes, config.serverUrl, token);
  const writer = useWriter(config.storage);
  const selected = useHash();
  const { rows } = useLiveQuery(shipments, "createdAt", { descending: true });
  return (
    <main className="wide">
      <header>
        <h1>Supply chain</h1>
        <span className="who" title={writer}>
          {config.user} · {writer ? `${writer.slice(0, 8)}…` : "…"}
        </span>
        <SyncBadge state={shared} label="shipments" />
        <SyncBadge state={own} label="private" testId="sync-private" />
      </header>
      <div className="layout">
        <aside>
          {shipments && writer && (
            <NewShipment
              ledger={shipments}
              user={config.user}
              writer={writer}
            />
          )}
          <ul className="shipments">
            {rows.length === 0 && <li className="empty">No shipments yet.</li>}
            {rows.map((row) => (
              <ShipmentLink
                key={row.id}
                ledger={shipments}
                id={row.id}
                selected={row.id === selected}
              />
            ))}
          </ul>
        </aside>
        {selected ? (
          <ShipmentPage
            key={selected}
            id={selected}
            shipments={shipments}
            notes={notes}
            user={config.user}
            writer={writer}
          />
        ) : (
          <p className="empty">Pick a shipment.</p>
        )}
      </div>
    </main>
  );
}

const onHashChange = (listener: () => void) => {
  window.addEventListener("hashchange", listener);
  return () => window.removeEventListener("hashchange", listener);
};

/** The shipment the URL's fragment names (`#<id>`), so a reload stays on its page. */
function useHash(): string {
  return useSyncExternalStore(onHashChange, () =>
    decodeURIComponent(location.hash.slice(1)),
  );
}
