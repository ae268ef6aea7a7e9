// hello (client → server): the first message of a WebSocket, and the negotiation request
// over HTTP. Lists the protocol versions the client speaks and carries its bearer token.
import * as z from "zod";
import { requestId } from "./fields.js";

export const hello = z.object({
  t: z.literal("hello"),
  id: requestId,
  /** Protocol versions the client speaks, any order. */
  v: z.array(z.number().int().min(1)).min(1).max(16),
  token: z.string().max(8192).optional(),
  /** Free text naming the client software, for server logs. */
  client: z.string().max(256).optional(),
});
export type Hello = z.output<typeof hello>;
