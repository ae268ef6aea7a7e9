// What a failed query means to a caller. Postgres being down, restarting, out of connections
// or cutting a connection is `unavailable` (ProtocolError: the server answers 503 and the
// client's outbox retries); anything else is an IoError carrying the driver's error.
import { ProtocolError } from "../../../sync/protocol/error.js";
import { IoError, KilnError } from "../../../util/errors.js";

// Errors of the socket (node) and of postgres.js's connection handling.
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
]);

// SQLSTATEs that say "try again": connection exceptions (08…), insufficient resources
// (53…: too many connections, disk full), shutdown or start-up (57P01–57P03), a statement
// cancelled by a timeout (57014), and the transaction conflicts a retry resolves.
const RETRY_STATES = new Set([
  "57P01",
  "57P02",
  "57P03",
  "57014",
  "40001",
  "40P01",
  "55P03",
]);

export function isUnavailable(error: unknown): boolean {
  if (error instanceof ProtocolError) return error.reason === "unavailable";
  const code = errorCode(error);
  if (code === undefined) return false;
  return (
    CONNECTION_CODES.has(code) ||
    RETRY_STATES.has(code) ||
    code.startsWith("08") ||
    code.startsWith("53")
  );
}

/** The error a backend operation rejects with, for a failure of the database. */
export function databaseError(operation: string, error: unknown): KilnError {
  if (error instanceof KilnError) return error;
  if (isUnavailable(error))
    return new ProtocolError(
      "unavailable",
      `${operation}: postgres is unavailable (${describe(error)})`,
      { cause: error },
    );
  return new IoError(operation, { cause: error });
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error))
    return undefined;
  const code = error.code;
  return typeof code === "string" ? code : undefined;
}

function describe(error: unknown): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code !== undefined && !message.includes(code)
    ? `${code}: ${message}`
    : message;
}
