// welcome (server → client): the answer to hello. The chosen version and what this server
// speaks and accepts.
import * as z from "zod/mini";
import { requestId } from "./fields.js";

export const welcome = z.object({
  t: z.literal("welcome"),
  id: requestId,
  /** The protocol version the rest of the session uses: the highest both speak. */
  v: z.int().check(z.minimum(1)),
  /** Transports this server accepts, in its order of preference: "ws", "http". */
  transports: z.array(z.enum(["ws", "http"])).check(z.minLength(1)),
  /** Largest message, in bytes, the server accepts. */
  maxMessage: z.int().check(z.minimum(1024)),
  /** Most commits the server accepts in one push. */
  maxCommits: z.int().check(z.minimum(1)),
  /** Free text naming the server software. */
  server: z.string().check(z.maxLength(256)),
  /**
   * Present when the server offers direct uploads (upload.ts): commits of at least this many
   * bytes may be uploaded to its store instead of pushed. Absent: push every commit's bytes.
   */
  uploadMin: z.optional(z.int().check(z.minimum(0))),
});
export type Welcome = z.output<typeof welcome>;
