// The shared `shipments` ledger holds two kinds of doc: shipments, and custody events. A
// custody event is append-only: each is a new doc, written once and never changed, so the
// trail of a shipment is every event naming it, in time order — two partners recording at
// the same moment (even offline) both end up in it, and nothing is overwritten.
import { z } from "zod";

const partner = z.string().min(1).max(32);

export const shipmentSchema = z.object({
  kind: z.literal("shipment"),
  ref: z.string().min(1).max(40),
  goods: z.string().max(200),
  /** Who ships it, and who receives it in the end. */
  from: partner,
  to: partner,
  createdAt: z.number(),
});

export const custodySchema = z.object({
  kind: z.literal("custody"),
  /** The shipment's doc id. */
  shipment: z.string(),
  action: z.enum(["created", "handed-over", "received", "delivered"]),
  by: partner,
  /** The partner it is handed to (handed-over only). */
  to: partner.optional(),
  at: z.number(),
  /** The recording device's public key (`whoami`): who signed the commit that wrote it. */
  writer: z.string(),
});

export const shippingDocSchema = z.discriminatedUnion("kind", [
  shipmentSchema,
  custodySchema,
]);

export type Shipment = z.infer<typeof shipmentSchema>;
export type CustodyEvent = z.infer<typeof custodySchema>;
export type ShippingDoc = z.infer<typeof shippingDocSchema>;

/** Where a shipment stands, from its trail. */
export type Custody =
  | { kind: "held"; by: string }
  | { kind: "in-transit"; from: string; to: string }
  | { kind: "delivered"; to: string }
  | { kind: "unknown" };

/** The trail in the order it happened (ties broken by id, the same on every replica). */
export function trailOrder(
  a: { id: string; at: number },
  b: { id: string; at: number },
): number {
  return a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The custody a trail (in order) ends in. */
export function custodyOf(trail: readonly CustodyEvent[]): Custody {
  const last = trail.at(-1);
  switch (last?.action) {
    case undefined:
      return { kind: "unknown" };
    case "created":
    case "received":
      return { kind: "held", by: last.by };
    case "handed-over":
      return { kind: "in-transit", from: last.by, to: last.to ?? "?" };
    case "delivered":
      return { kind: "delivered", to: last.by };
  }
}

export function describeCustody(custody: Custody): string {
  switch (custody.kind) {
    case "held":
      return `held by ${custody.by}`;
    case "in-transit":
      return `in transit ${custody.from} → ${custody.to}`;
    case "delivered":
      return `delivered to ${custody.to}`;
    case "unknown":
      return "no custody recorded";
  }
}
