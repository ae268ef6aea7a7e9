// push (client → server): commits to store, parents before children (or already held by the
// server). All or nothing: the server verifies every commit against its CID and finds every
// parent before it stores any. `heads`, when present, are the client's heads after this push;
// each must then be held by the server, or the push is refused as missing-commit.
import * as z from "zod";
import { cidList, commitField, ledgerField, requestId } from "./fields.js";

export const push = z.object({
  t: z.literal("push"),
  id: requestId,
  ledger: ledgerField,
  commits: z.array(commitField),
  heads: cidList.optional(),
});
export type Push = z.output<typeof push>;
