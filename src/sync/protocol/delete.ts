// delete (client → server) and deleted (server → client): deletes a ledger from the server —
// every commit, head and snapshot of it — for a client with write rights for it. The answer
// `deleted` comes once nothing of it remains in the server's storage. Live subscribers of the
// ledger are not told; their next pull finds it empty.
import * as z from "zod/mini";
import { ledgerField, requestId } from "./fields.js";

export const deleteLedger = z.object({
  t: z.literal("delete"),
  id: requestId,
  ledger: ledgerField,
});
export type DeleteLedger = z.output<typeof deleteLedger>;

export const deleted = z.object({
  t: z.literal("deleted"),
  id: requestId,
  ledger: ledgerField,
});
export type Deleted = z.output<typeof deleted>;
