import { useState } from "react";
import type { Ledger } from "kiln";
import type { Trade } from "./trade.js";

export function ProposeForm({
  ledger,
  user,
}: {
  ledger: Ledger<Trade>;
  user: string;
}) {
  const [symbol, setSymbol] = useState("ACME");
  const [qty, setQty] = useState(100);
  const [side, setSide] = useState<"buy" | "sell">("buy");
  const [price, setPrice] = useState(10);
  const [error, setError] = useState<string>();
  const propose = () => {
    ledger
      .put({
        symbol,
        side,
        qty,
        price,
        proposedBy: user,
        proposedAt: Date.now(),
      })
      .then(
        () => setError(undefined),
        (e: unknown) => setError(String(e)),
      );
  };
  return (
    <form
      className="propose"
      onSubmit={(event) => {
        event.preventDefault();
        propose();
      }}
    >
      <select
        value={side}
        onChange={(e) => setSide(e.target.value as "buy" | "sell")}
      >
        <option value="buy">buy</option>
        <option value="sell">sell</option>
      </select>
      <input
        aria-label="quantity"
        type="number"
        value={qty}
        onChange={(e) => setQty(Number(e.target.value))}
      />
      <input
        aria-label="symbol"
        value={symbol}
        onChange={(e) => setSymbol(e.target.value.toUpperCase())}
      />
      <span>@</span>
      <input
        aria-label="price"
        type="number"
        step="0.01"
        value={price}
        onChange={(e) => setPrice(Number(e.target.value))}
      />
      <button type="submit">Propose</button>
      {error && <p className="error">{error}</p>}
    </form>
  );
}
