// ack (server → client): a push is stored durably. Version 2 no longer carries the ledger's
// whole head set (up to MAX_HEADS CIDs on every push): `heads` holds only the commits named by
// the push (pushed, uploaded or listed in its `heads`) that are heads of the server's set
// after it, so an ack costs O(push), not O(heads).
import * as z from "zod/mini";
import { headList, ledgerField, requestId } from "./fields.js";

export const ack = z.object({
  t: z.literal("ack"),
  id: requestId,
  ledger: ledgerField,
  /** The commits named by the push that are server heads after it. */
  heads: headList,
  /** How many of the pushed commits were new to the server. */
  stored: z.int().check(z.minimum(0)),
});
export type Ack = z.output<typeof ack>;
