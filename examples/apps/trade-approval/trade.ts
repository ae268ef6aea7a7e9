// A trade and its approvals. Each approver decides in a field of their own (`first`,
// `second`), so two approvers deciding at the same moment — on different replicas, even
// offline — never overwrite each other: Kiln merges concurrent writes field by field.
import { z } from "zod";

const decision = z.object({
  by: z.string(),
  verdict: z.enum(["approve", "reject"]),
  at: z.number(),
});

export const tradeSchema = z.object({
  symbol: z.string().min(1).max(12),
  side: z.enum(["buy", "sell"]),
  qty: z.number().int().positive(),
  price: z.number().positive(),
  proposedBy: z.string(),
  proposedAt: z.number(),
  first: decision.optional(),
  second: decision.optional(),
  withdrawn: z.boolean().optional(),
});

export type Trade = z.infer<typeof tradeSchema>;
export type Decision = z.infer<typeof decision>;
export type Slot = "first" | "second";

export type TradeStatus =
  | { kind: "pending"; decided: number }
  | { kind: "executed" }
  | { kind: "rejected" }
  | { kind: "disputed"; approved: string; rejected: string }
  | { kind: "withdrawn" };

/** A trade is executed only with both approvals; approvers who disagree are a dispute. */
export function statusOf(trade: Trade): TradeStatus {
  if (trade.withdrawn) return { kind: "withdrawn" };
  const { first, second } = trade;
  if (!first || !second)
    return { kind: "pending", decided: first || second ? 1 : 0 };
  if (first.verdict === second.verdict)
    return { kind: first.verdict === "approve" ? "executed" : "rejected" };
  const [yes, no] =
    first.verdict === "approve" ? [first, second] : [second, first];
  return { kind: "disputed", approved: yes.by, rejected: no.by };
}
