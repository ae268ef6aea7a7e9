// The errors a Connection reports (on `status` and the `error` event), as one union
// discriminated by `code`: `if (e.code === "protocol") e.reason` needs no cast. A failure
// that is not a Kiln error is reported as an UnexpectedError whose cause is the original.
import {
  ClosedError,
  CorruptError,
  DecryptError,
  FormatVersionError,
  IntegrityError,
  KilnError,
  MissingCommitError,
  UnexpectedError,
} from "../util/errors.js";
import type { KilnErrorCode } from "../util/errors.js";
import { ProtocolError } from "./protocol/index.js";
import { TransportError } from "./transport-error.js";

type Coded<E, C extends KilnErrorCode> = E & { readonly code: C };

type Specific =
  | "protocol"
  | "transport"
  | "decrypt"
  | "integrity"
  | "corrupt"
  | "format-version"
  | "missing-commit"
  | "closed"
  | "unexpected";

export type SyncError =
  | Coded<ProtocolError, "protocol">
  | Coded<TransportError, "transport">
  | Coded<DecryptError, "decrypt">
  | Coded<IntegrityError, "integrity">
  | Coded<CorruptError, "corrupt">
  | Coded<FormatVersionError, "format-version">
  | Coded<MissingCommitError, "missing-commit">
  | Coded<ClosedError, "closed">
  | Coded<UnexpectedError, "unexpected">
  /** Any other Kiln error (an IoError of a gateway, an UploadError, …). */
  | Coded<KilnError, Exclude<KilnErrorCode, Specific>>;

const CLASSES: Partial<
  Record<KilnErrorCode, abstract new (...a: never[]) => KilnError>
> = {
  protocol: ProtocolError,
  transport: TransportError,
  decrypt: DecryptError,
  integrity: IntegrityError,
  corrupt: CorruptError,
  "format-version": FormatVersionError,
  "missing-commit": MissingCommitError,
  closed: ClosedError,
  unexpected: UnexpectedError,
};

/** The error as the union: a Kiln error as it is, anything else wrapped (with its cause). */
export function toSyncError(error: unknown, operation = "sync"): SyncError {
  if (error instanceof KilnError) {
    const expected = CLASSES[error.code];
    if (!expected || error instanceof expected) return error as SyncError;
  }
  return new UnexpectedError(operation, { cause: error }) as SyncError;
}

/**
 * Failures retrying cannot fix: the server refused the token or its rights or a push by a non-member, no common
 * protocol version, the remote's commits are under another key, or the server let go of
 * history this connection needs after it refused the server's snapshot. synced() rejects on
 * them at once; the connection keeps retrying (a token may be renewed server-side) and
 * keeps reporting them on `status`.
 */
export function isUnfixable(error: SyncError): boolean {
  if (error.code === "decrypt") return true;
  return (
    error.code === "protocol" &&
    (error.reason === "unauthorized" ||
      error.reason === "forbidden" ||
      error.reason === "not-member" ||
      error.reason === "version" ||
      // Only after this connection refused the server's snapshot: it offers none again.
      error.reason === "history-gone")
  );
}
