// One custody event of the trail, with who signed it. The event names the key its page
// recorded with (`writer`); the ledger's history names the key that actually signed the
// commit that wrote it (`ledger.history(id)`, checked by every replica that merged it). The
// two agree for an honest partner; an event written more than once broke the append-only
// rule. Both are shown, never hidden.
import type { Ledger } from "kiln";
import { useEffect, useState } from "react";
import type { CustodyEvent, ShippingDoc } from "./shipment.js";

type Signed =
  | { kind: "checking" }
  | { kind: "signed"; writer: string | null; versions: number }
  | { kind: "unknown" }; // its commit was compacted away

export function TrailEvent({
  ledger,
  event,
}: {
  ledger: Ledger<ShippingDoc> | undefined;
  event: CustodyEvent & { id: string };
}) {
  const signed = useSigner(ledger, event.id, event.at);
  return (
    <li>
      <time>{new Date(event.at).toLocaleTimeString()}</time>{" "}
      <strong>{event.by}</strong> {event.action}
      {event.to ? ` to ${event.to}` : ""}{" "}
      <code title={event.writer}>{event.writer.slice(0, 8)}…</code>{" "}
      <span className="signer" data-testid="signer">
        {describe(signed, event.writer)}
      </span>
    </li>
  );
}

function describe(signed: Signed, claimed: string): string {
  switch (signed.kind) {
    case "checking":
      return "";
    case "unknown":
      return "(signer not kept)";
    case "signed": {
      const edited =
        signed.versions > 1 ? ` · edited ${signed.versions}×!` : "";
      if (signed.writer === claimed) return `✓ signed${edited}`;
      return `⚠ signed by ${signed.writer?.slice(0, 8) ?? "nobody"}…${edited}`;
    }
  }
}

/** Who signed the commit that wrote doc `id`, from the ledger's history. */
function useSigner(
  ledger: Ledger<ShippingDoc> | undefined,
  id: string,
  at: number,
): Signed {
  const [signed, setSigned] = useState<Signed>({ kind: "checking" });
  useEffect(() => {
    if (!ledger) return;
    let live = true;
    ledger.history(id).then(
      (versions) => {
        const first = versions.at(-1); // oldest: the event as it was recorded
        if (!live) return;
        setSigned(
          first?.kind === "put"
            ? {
                kind: "signed",
                writer: first.writer,
                versions: versions.length,
              }
            : { kind: "unknown" },
        );
      },
      () => live && setSigned({ kind: "unknown" }),
    );
    return () => {
      live = false;
    };
  }, [ledger, id, at]);
  return signed;
}
