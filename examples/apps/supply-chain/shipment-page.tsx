// A shipment's page: where it stands, its full custody trail (append-only events, in time
// order, each with the partner and the device key that signed it: trail-event.tsx), what
// this partner can record next, and their private note on it.
import { useDoc, useLiveQuery } from "kiln/react";
import type { Ledger } from "kiln";
import { useState } from "react";
import type { Note } from "./note.js";
import { TrailEvent } from "./trail-event.js";
import { custodyOf, describeCustody, trailOrder } from "./shipment.js";
import type { CustodyEvent, ShippingDoc } from "./shipment.js";

/** The custody events of shipment `id`, in the order they happened. */
function useTrail(ledger: Ledger<ShippingDoc> | undefined, id: string) {
  const { rows } = useLiveQuery(ledger, "shipment", { key: id });
  return rows
    .flatMap((r) => (r.doc?.kind === "custody" ? [{ ...r.doc, id: r.id }] : []))
    .sort(trailOrder);
}

export function ShipmentLink({
  ledger,
  id,
  selected,
}: {
  ledger: Ledger<ShippingDoc> | undefined;
  id: string;
  selected: boolean;
}) {
  const { doc } = useDoc(ledger, id);
  const trail = useTrail(ledger, id);
  if (doc?.kind !== "shipment") return null;
  return (
    <li className={selected ? "selected" : ""} data-testid={`link-${doc.ref}`}>
      <a href={`#${encodeURIComponent(id)}`}>
        <strong>{doc.ref}</strong> {doc.goods}
      </a>
      <span className="custody">{describeCustody(custodyOf(trail))}</span>
    </li>
  );
}

export function ShipmentPage({
  id,
  shipments,
  notes,
  user,
  writer,
}: {
  id: string;
  shipments: Ledger<ShippingDoc> | undefined;
  notes: Ledger<Note> | undefined;
  user: string;
  writer: string | undefined;
}) {
  const { doc } = useDoc(shipments, id);
  const trail = useTrail(shipments, id);
  const [handTo, setHandTo] = useState("");
  if (doc?.kind !== "shipment") return <p className="empty">Loading…</p>;
  const custody = custodyOf(trail);
  // Each event is a new doc, never an edit: the trail only grows.
  const record = (action: CustodyEvent["action"], to?: string) =>
    void shipments?.put({
      kind: "custody",
      shipment: id,
      action,
      by: user,
      ...(to ? { to } : {}),
      at: Date.now(),
      writer: writer!,
    });
  const holding = custody.kind === "held" && custody.by === user;
  return (
    <section className="shipment" data-testid={`shipment-${doc.ref}`}>
      <h2>
        {doc.ref} <small>{doc.goods}</small>
      </h2>
      <p className="route">
        {doc.from} → {doc.to}
      </p>
      <p className={`state ${custody.kind}`} data-testid="custody">
        {describeCustody(custody)}
      </p>
      {writer && holding && doc.to !== user && (
        <form
          className="actions"
          onSubmit={(event) => {
            event.preventDefault();
            record("handed-over", handTo);
            setHandTo("");
          }}
        >
          <input
            aria-label="hand over to"
            placeholder="partner"
            required
            value={handTo}
            onChange={(e) => setHandTo(e.target.value)}
          />
          <button type="submit">Hand over</button>
        </form>
      )}
      {writer && holding && doc.to === user && (
        <div className="actions">
          <button onClick={() => record("delivered")}>Mark delivered</button>
        </div>
      )}
      {writer && custody.kind === "in-transit" && custody.to === user && (
        <div className="actions">
          <button onClick={() => record("received")}>Confirm receipt</button>
        </div>
      )}
      <h3>Custody trail</h3>
      <ol className="trail" data-testid="trail">
        {trail.map((e) => (
          <TrailEvent key={e.id} ledger={shipments} event={e} />
        ))}
      </ol>
      <PrivateNote notes={notes} id={id} user={user} />
    </section>
  );
}

function PrivateNote({
  notes,
  id,
  user,
}: {
  notes: Ledger<Note> | undefined;
  id: string;
  user: string;
}) {
  const { doc, save } = useDoc(notes, id);
  const [draft, setDraft] = useState<string>();
  const text = draft ?? doc?.text ?? "";
  return (
    <form
      className="note"
      onSubmit={(event) => {
        event.preventDefault();
        void save({ text, updatedAt: Date.now() }).then(() =>
          setDraft(undefined),
        );
      }}
    >
      <h3>Private note</h3>
      <p className="hint">
        Only {user} reads this: it is kept in private-{user}, a ledger no other
        partner has the key or a token for.
      </p>
      <textarea
        aria-label="private note"
        value={text}
        onChange={(e) => setDraft(e.target.value)}
      />
      <button type="submit">Save note</button>
      {doc && draft === undefined && (
        <span className="saved" data-testid="note-saved">
          saved {new Date(doc.updatedAt).toLocaleTimeString()}
        </span>
      )}
    </form>
  );
}
