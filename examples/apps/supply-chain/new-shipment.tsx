// A new shipment: its doc, and the first custody event ("created", held by its sender).
import { useState } from "react";
import type { Ledger } from "kiln";
import type { ShippingDoc } from "./shipment.js";

export function NewShipment({
  ledger,
  user,
  writer,
}: {
  ledger: Ledger<ShippingDoc>;
  user: string;
  writer: string;
}) {
  const [ref, setRef] = useState("");
  const [goods, setGoods] = useState("");
  const [to, setTo] = useState("");
  const [error, setError] = useState<string>();
  const create = async () => {
    const at = Date.now();
    const { id } = await ledger.put({
      kind: "shipment",
      ref,
      goods,
      from: user,
      to,
      createdAt: at,
    });
    await ledger.put({
      kind: "custody",
      shipment: id,
      action: "created",
      by: user,
      at,
      writer,
    });
    location.hash = id;
  };
  return (
    <form
      className="new-shipment"
      onSubmit={(event) => {
        event.preventDefault();
        create().then(
          () => {
            setRef("");
            setGoods("");
            setError(undefined);
          },
          (e: unknown) => setError(String(e)),
        );
      }}
    >
      <input
        aria-label="reference"
        placeholder="reference"
        required
        value={ref}
        onChange={(e) => setRef(e.target.value)}
      />
      <input
        aria-label="goods"
        placeholder="goods"
        value={goods}
        onChange={(e) => setGoods(e.target.value)}
      />
      <input
        aria-label="receiver"
        placeholder="receiver"
        required
        value={to}
        onChange={(e) => setTo(e.target.value)}
      />
      <button type="submit">New shipment</button>
      {error && <p className="error">{error}</p>}
    </form>
  );
}
