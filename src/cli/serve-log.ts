// `kiln serve`'s log: one pino record per server event and lifecycle step, with a level, the
// WebSocket session or HTTP request it belongs to, and every cause (errWithCause keeps the
// chain, each with its code, errno, path or SQLSTATE). JSON lines for a log collector; on a
// terminal, the same records as one sentence each. Usage errors and the "listening on" banner
// are not log records: they stay plain lines (scripts read the banner from stdout).
//
// Why not pino-pretty for the terminal: it brings a dozen packages to print every field of a
// record generically; the sentence each event needs is the few lines of `formatRecord` below.
import { pino, stdSerializers, stdTimeFunctions } from "pino";
import type { Logger } from "pino";
import type { ServerEvent } from "../server/index.js";
import { KilnError } from "../util/errors.js";

/** json: one JSON object a line; text: one sentence a line, for a person at a terminal. */
export type LogFormat = "json" | "text";

export interface ServeLogOptions {
  /** Debug records too (connections, pushes, refused requests); else info and above. */
  verbose: boolean;
  format: LogFormat;
  /** Where each finished line goes (without its newline). */
  write: (line: string) => void;
}

/** The logger `kiln serve` writes through. */
export function createServeLogger(options: ServeLogOptions): Logger {
  const { write, format } = options;
  return pino(
    {
      level: options.verbose ? "debug" : "info",
      base: { pid: process.pid },
      timestamp: stdTimeFunctions.isoTime,
      serializers: { err: stdSerializers.errWithCause },
    },
    {
      write: (line: string) =>
        write(
          format === "json"
            ? line.replace(/\n$/, "")
            : formatRecord(JSON.parse(line) as LogRecord),
        ),
    },
  );
}

/** Logs one SyncServer event at its level: failures as errors, the rest as debug. */
export function logServerEvent(logger: Logger, event: ServerEvent): void {
  const source = {
    transport: event.transport,
    ...(event.session !== undefined ? { session: event.session } : {}),
    ...(event.remote !== undefined ? { remote: event.remote } : {}),
  };
  const from = event.remote !== undefined ? ` from ${event.remote}` : "";
  switch (event.kind) {
    case "delivered":
      // One per subscriber and change: counted in the metrics, never a log line.
      return;
    case "open":
      logger.debug({ event: "open", ...source }, `websocket opened${from}`);
      return;
    case "close":
      logger.debug(
        { event: "close", code: event.code, ...source },
        `websocket closed (${event.code})${from}`,
      );
      return;
    case "refused":
      logger.debug(
        {
          event: "refused",
          reason: event.reason,
          ...source,
          ...(event.cause !== undefined ? { err: event.cause } : {}),
        },
        `refused ${event.transport} request${from}: ${event.reason}: ${event.message}`,
      );
      return;
    case "push":
      logger.debug(
        {
          event: "push",
          ledger: event.ledger,
          stored: event.stored,
          ...(event.uploaded !== undefined ? { uploaded: event.uploaded } : {}),
          ...source,
        },
        `stored ${event.stored} commits of ${JSON.stringify(event.ledger)} over ${event.transport}${from}`,
      );
      return;
    case "failure":
      logger.error(
        { event: "failure", err: event.error, ...source },
        `${event.transport} request failed${from}`,
      );
      return;
    case "storage":
      logger.error(
        {
          event: "storage",
          operation: event.operation,
          ...(event.ledger !== undefined ? { ledger: event.ledger } : {}),
          err: event.cause,
          ...source,
        },
        `storage failed to ${event.operation}${event.ledger !== undefined ? ` of ledger ${JSON.stringify(event.ledger)}` : ""} (${event.transport} request${from})`,
      );
  }
}

interface SerializedError {
  message?: string;
  code?: unknown;
  cause?: SerializedError;
}

interface LogRecord {
  level: number;
  msg?: string;
  session?: string;
  err?: SerializedError;
}

/** A record as one line for a person: the sentence, the session, and the causes with codes. */
export function formatRecord(record: LogRecord): string {
  const level =
    record.level >= 50 ? "error: " : record.level >= 40 ? "warning: " : "";
  const session = record.session !== undefined ? ` [${record.session}]` : "";
  const causes: string[] = [];
  for (let e = record.err, depth = 0; e && depth < 8; e = e.cause, depth++)
    causes.push(
      typeof e.code === "string"
        ? `${e.message} (${e.code})`
        : String(e.message),
    );
  return `kiln serve: ${level}${record.msg ?? ""}${session}${causes.length > 0 ? `: ${causes.join(": caused by ")}` : ""}`;
}

/** An error and its causes, each with its code when it has one (errno, SQLSTATE, Kiln's). */
export function describeCauses(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e !== undefined && depth < 5; depth++) {
    if (e instanceof KilnError) parts.push(`${e.message} (${e.code})`);
    else if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      parts.push(
        typeof code === "string" ? `${e.message} (${code})` : e.message,
      );
    } else parts.push(typeof e === "string" ? e : JSON.stringify(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": caused by ");
}
