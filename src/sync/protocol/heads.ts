// heads (server → client): ends the answer to a pull with the server's head set; every commit
// they reach and the client lacked was sent before it.
import * as z from "zod/mini";
import { headList, ledgerField, requestId } from "./fields.js";

export const heads = z.object({
  t: z.literal("heads"),
  id: requestId,
  ledger: ledgerField,
  heads: headList,
});
export type Heads = z.output<typeof heads>;
