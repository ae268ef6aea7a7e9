// ack (server → client): a push is stored durably; `heads` is the ledger's head set after it.
import * as z from "zod";
import { headList, ledgerField, requestId } from "./fields.js";

export const ack = z.object({
  t: z.literal("ack"),
  id: requestId,
  ledger: ledgerField,
  heads: headList,
  /** How many of the pushed commits were new to the server. */
  stored: z.number().int().min(0),
});
export type Ack = z.output<typeof ack>;
