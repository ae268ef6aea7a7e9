// commits (server → client): a batch of commits, parents before children. With an `id` it
// is part of the answer to that pull; without one it is a live push (WebSocket subscribers
// of the ledger), and then `heads` is the server's head set after these commits.
import * as z from "zod/mini";
import { commitField, headList, ledgerField, requestId } from "./fields.js";

export const commits = z.object({
  t: z.literal("commits"),
  id: z.optional(requestId),
  ledger: ledgerField,
  commits: z.array(commitField),
  heads: z.optional(headList),
  /**
   * On the first `commits` of a pull's answer: how many commits the answer sends in all, so
   * a client can show catch-up progress. Optional: absent, the total is unknown.
   */
  total: z.optional(z.int().check(z.minimum(0))),
});
export type Commits = z.output<typeof commits>;
