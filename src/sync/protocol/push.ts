// push (client → server): commits to store, parents before children (or already held by the
// server). All or nothing: the server verifies every commit against its CID and finds every
// parent before it stores any. `heads`, when present, are the client's heads after this push;
// each must then be held by the server, or the push is refused as missing-commit.
// `uploaded` (optional, only to a server whose welcome offered direct uploads) names commits
// whose bytes the client PUT to the server's store (upload.ts); they come before `commits`.
import * as z from "zod/mini";
import { cidList, commitField, ledgerField, requestId } from "./fields.js";

export const push = z.object({
  t: z.literal("push"),
  id: requestId,
  ledger: ledgerField,
  commits: z.array(commitField),
  heads: z.optional(cidList),
  /**
   * Commits uploaded directly, read back and verified by the server: parents before
   * children, all before the commits of `commits`.
   */
  uploaded: z.optional(cidList),
});
export type Push = z.output<typeof push>;
