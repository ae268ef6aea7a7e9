// A partner's private note on a shipment, kept in their own ledger under the shipment's id.
import { z } from "zod";

export const noteSchema = z.object({
  text: z.string().max(2000),
  updatedAt: z.number(),
});

export type Note = z.infer<typeof noteSchema>;
