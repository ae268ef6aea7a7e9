// pull (client → server): "send me the commits I lack". `have` lists commits the client holds
// with all their ancestors (its heads, and the server heads it merged last time); the server
// answers with every commit reachable from its heads and not from the known CIDs of `have`,
// as `commits` batches (parents before children), then one `heads` message.
import * as z from "zod/mini";
import { cidList, ledgerField, requestId } from "./fields.js";

export const pull = z.object({
  t: z.literal("pull"),
  id: requestId,
  ledger: ledgerField,
  have: cidList,
  /** WebSocket: after answering, push this ledger's new commits on this socket. */
  live: z.optional(z.boolean()),
  /**
   * HTTP long-poll: when nothing is missing, hold the answer until the ledger's heads change
   * or this many milliseconds pass (the server may cap it).
   */
  wait: z.optional(z.int().check(z.minimum(0), z.maximum(120_000))),
  /**
   * The client can start from a snapshot: when the server holds one and `have` names no
   * commit the server holds (a new replica, or one whose history the server let go), the
   * answer starts with a `snapshot` message and then sends only the commits after it.
   */
  snapshot: z.optional(z.boolean()),
});
export type Pull = z.output<typeof pull>;
