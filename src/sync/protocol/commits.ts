// commits (server → client): a batch of commits, parents before children. With an `id` it
// is part of the answer to that pull; without one it is a live push (WebSocket subscribers
// of the ledger), and then `heads` is the server's head set after these commits.
import * as z from "zod";
import { commitField, headList, ledgerField, requestId } from "./fields.js";

export const commits = z.object({
  t: z.literal("commits"),
  id: requestId.optional(),
  ledger: ledgerField,
  commits: z.array(commitField),
  heads: headList.optional(),
  /**
   * On the first `commits` of a pull's answer: how many commits the answer sends in all, so
   * a client can show catch-up progress. Optional: absent, the total is unknown.
   */
  total: z.number().int().min(0).optional(),
});
export type Commits = z.output<typeof commits>;
