// hello (client → server): the first message of a WebSocket, and the negotiation request
// over HTTP. Lists the protocol versions the client speaks and carries its bearer tokens: the
// session may do what any of them allows. A later hello on the same socket replaces them.
import * as z from "zod";
import { requestId } from "./fields.js";

/** Longest bearer token, in UTF-16 code units. */
export const MAX_TOKEN = 8192;
/** Most tokens in one hello. */
export const MAX_TOKENS = 64;

export const hello = z.object({
  t: z.literal("hello"),
  id: requestId,
  /** Protocol versions the client speaks, any order. */
  v: z.array(z.number().int().min(1)).min(1).max(16),
  /** Bearer tokens; the session's rights are the union of theirs. */
  tokens: z.array(z.string().min(1).max(MAX_TOKEN)).max(MAX_TOKENS).optional(),
  /** Free text naming the client software, for server logs. */
  client: z.string().max(256).optional(),
});
export type Hello = z.output<typeof hello>;
