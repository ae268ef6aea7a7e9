// hello (client → server): the first message of a WebSocket, and the negotiation request
// over HTTP. Lists the protocol versions the client speaks and carries its bearer tokens: the
// session may do what any of them allows. A later hello on the same socket replaces them.
import * as z from "zod/mini";
import { requestId } from "./fields.js";

/** Longest bearer token, in UTF-16 code units. */
export const MAX_TOKEN = 8192;
/** Most tokens in one hello. */
export const MAX_TOKENS = 64;

export const hello = z.object({
  t: z.literal("hello"),
  id: requestId,
  /** Protocol versions the client speaks, any order. */
  v: z
    .array(z.int().check(z.minimum(1)))
    .check(z.minLength(1), z.maxLength(16)),
  /** Bearer tokens; the session's rights are the union of theirs. */
  tokens: z.optional(
    z
      .array(z.string().check(z.minLength(1), z.maxLength(MAX_TOKEN)))
      .check(z.maxLength(MAX_TOKENS)),
  ),
  /** Free text naming the client software, for server logs. */
  client: z.optional(z.string().check(z.maxLength(256))),
});
export type Hello = z.output<typeof hello>;
