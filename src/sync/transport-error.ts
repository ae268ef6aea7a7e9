// Failures of a wire to a remote: the remote could not be reached, went away, or went silent.
// They end the session and the Connection backs off; they are never about the data.
import { KilnError } from "../util/errors.js";

/** A network failure talking to a remote (refused, reset, a bad response), naming the transport. */
export class TransportError extends KilnError {
  /** The WebSocket close code, when the server closed the socket. */
  readonly closeCode: number | undefined;

  constructor(
    readonly transport: string,
    detail: string,
    options?: { cause?: unknown; closeCode?: number },
  ) {
    super(
      "transport",
      `${transport}: ${detail}`,
      options?.cause !== undefined ? { cause: options.cause } : undefined,
    );
    this.closeCode = options?.closeCode;
  }
}

/**
 * The server closed the socket with 1001 (going away: it is shutting down). Its client
 * reconnects at once — through a balancer, to another process — instead of backing off.
 */
export function isGoingAway(error: unknown): boolean {
  return error instanceof TransportError && error.closeCode === 1001;
}

/** A network call that took longer than its timeout. */
export class TimeoutError extends TransportError {}
