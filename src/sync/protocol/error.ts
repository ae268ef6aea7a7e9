// error (server → client): a refused request. With an `id` it answers that request; without
// one it concerns the connection (a frame that could not be read at all) or, with `ledger`,
// ends that ledger's live subscription. The connection stays open unless docs/protocol.md
// says otherwise.
import * as z from "zod/mini";
import { KilnError } from "../../util/errors.js";
import { ledgerField, requestId } from "./fields.js";

export const ERROR_REASONS = [
  "bad-frame",
  "bad-message",
  "unknown-type",
  "version",
  "too-large",
  "cid-mismatch",
  "bad-commit",
  "missing-commit",
  "unauthorized",
  "forbidden",
  "unavailable",
  "internal",
  "too-many-heads",
  "over-quota",
  "rate-limited",
  "history-gone",
  "not-member",
] as const;
/** Why a SyncServer refused a message (docs/protocol.md lists each with its HTTP status). */
export type ErrorReason = (typeof ERROR_REASONS)[number];

export const error = z.object({
  t: z.literal("error"),
  id: z.optional(requestId),
  /** Without `id`: the ledger whose live subscription this error ended. */
  ledger: z.optional(ledgerField),
  reason: z.enum(ERROR_REASONS),
  message: z.string().check(z.maxLength(4096)),
});
export type ErrorMessage = z.output<typeof error>;

/** HTTP status for each reason when the error answers an HTTP request. */
export const HTTP_STATUS: Record<ErrorReason, number> = {
  "bad-frame": 400,
  "bad-message": 400,
  "unknown-type": 400,
  version: 400,
  "too-large": 413,
  "cid-mismatch": 422,
  "bad-commit": 422,
  "missing-commit": 409,
  unauthorized: 401,
  forbidden: 403,
  unavailable: 503,
  internal: 500,
  "too-many-heads": 409,
  "over-quota": 413,
  "rate-limited": 429,
  "history-gone": 410,
  "not-member": 403,
};

/** Reasons a client may retry the same request for (after a backoff). */
export function isRetryable(reason: ErrorReason): boolean {
  return (
    reason === "unavailable" ||
    reason === "internal" ||
    reason === "rate-limited"
  );
}

/** A protocol error, raised by either side: the reason is the wire code. */
export class ProtocolError extends KilnError {
  constructor(
    readonly reason: ErrorReason,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super("protocol", `${reason}: ${detail}`, options);
  }
}
