// What the SyncServer reports to its `log` option, and how any failure becomes a typed `error`
// message: ProtocolErrors keep their reason, anything else is `internal` and logged.
import type { ErrorMessage, ErrorReason } from "../sync/protocol/index.js";
import { ProtocolError } from "../sync/protocol/index.js";
import { StorageError } from "./backend-guard.js";
import type { TransportName } from "./ledger-service.js";

/**
 * Where an event happened: the client's address, and the WebSocket session or HTTP request
 * it belongs to (`ws-12`, `http-40`: unique within one server, so a log can follow one).
 */
export interface EventSource {
  remote?: string;
  session?: string;
}

/** What a SyncServer reports to its log: connections, refusals, storage failures. */
export type ServerEvent =
  | ({ kind: "open"; transport: "ws" } & EventSource)
  | ({ kind: "close"; transport: "ws"; code: number } & EventSource)
  /** A request refused with a typed error (bad input, auth, limits, storage down). */
  | ({
      kind: "refused";
      transport: TransportName;
      reason: ErrorReason;
      message: string;
      cause?: unknown;
    } & EventSource)
  /** A push stored commits. */
  | ({
      kind: "push";
      transport: TransportName;
      ledger: string;
      stored: number;
      /** Commits of the push whose bytes were read back from direct uploads, when any. */
      uploaded?: number;
    } & EventSource)
  /**
   * The backend failed (answered as `unavailable`): which operation, on which ledger, and the
   * backend's own error, which names the file or table and why. Operators always see these.
   */
  | ({
      kind: "storage";
      transport: TransportName;
      operation: string;
      ledger?: string;
      cause: unknown;
    } & EventSource)
  /**
   * A stored change reached a live subscriber (ws) or a held long-poll (http): `lag` is the
   * seconds from when this process learned of the change (at once for its own pushes; for
   * another process's, when its notice arrived) to the answer being handed to the socket.
   * One per subscriber and change: a metric, not a log line.
   */
  | ({
      kind: "delivered";
      transport: TransportName;
      ledger: string;
      lag: number;
    } & EventSource)
  /** An unexpected exception, answered as `internal`. */
  | ({
      kind: "failure";
      transport: TransportName;
      error: unknown;
    } & EventSource);

/** Where a SyncServer sends its events. */
export type ServerLog = (event: ServerEvent) => void;

/** Calls the app's logger; a throwing logger never breaks a request. */
export function safeLog(log: ServerLog | undefined): ServerLog {
  return (event) => {
    try {
      log?.(event);
    } catch {
      // The app's logger failed; there is nowhere else to report it.
    }
  };
}

/** The wire `error` for a failure; logs it (as refused or as failure). */
export function errorReply(
  error: unknown,
  id: number | undefined,
  log: ServerLog,
  transport: TransportName,
  where: EventSource = {},
): ErrorMessage {
  if (error instanceof ProtocolError) {
    const prefix = `${error.reason}: `;
    const message = (
      error.message.startsWith(prefix)
        ? error.message.slice(prefix.length)
        : error.message
    ).slice(0, 4096);
    if (error instanceof StorageError)
      log({
        kind: "storage",
        transport,
        operation: error.operation,
        ...(error.ledger !== undefined ? { ledger: error.ledger } : {}),
        cause: error.cause,
        ...where,
      });
    else
      log({
        kind: "refused",
        transport,
        reason: error.reason,
        message,
        ...where,
        ...(error.cause !== undefined ? { cause: error.cause } : {}),
      });
    return {
      t: "error",
      ...(id !== undefined ? { id } : {}),
      reason: error.reason,
      message,
    };
  }
  log({ kind: "failure", transport, error, ...where });
  return {
    t: "error",
    ...(id !== undefined ? { id } : {}),
    reason: "internal",
    message: "the server failed to handle this request; see its log",
  };
}
