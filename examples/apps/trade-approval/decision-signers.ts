// Who signed each decision of a trade: the writer of the newest commit in the trade's history
// that changed that decision's field (`ledger.history(id)`; every replica checked the
// signature when it merged the commit). A decision's `by` is the name its page wrote; the
// signer is the device key that wrote it, which a name cannot fake.
import type { Ledger } from "kiln";
import { useEffect, useState } from "react";
import type { Slot, Trade } from "./trade.js";

export type Signers = Partial<Record<Slot, string>>;

export function useDecisionSigners(
  ledger: Ledger<Trade> | undefined,
  id: string,
  trade: Trade | undefined,
): Signers {
  const [signers, setSigners] = useState<Signers>({});
  const first = trade?.first?.at;
  const second = trade?.second?.at;
  useEffect(() => {
    if (!ledger) return;
    let live = true;
    ledger.history(id).then(
      (versions) => {
        const found: Signers = {};
        for (const slot of ["first", "second"] as const) {
          const v = versions.find(
            (v) => v.kind === "put" && v.fields.includes(slot),
          );
          if (v?.kind === "put" && v.writer) found[slot] = v.writer;
        }
        if (live) setSigners(found);
      },
      () => undefined, // a history that cannot be read shows no signer
    );
    return () => {
      live = false;
    };
  }, [ledger, id, first, second]);
  return signers;
}
