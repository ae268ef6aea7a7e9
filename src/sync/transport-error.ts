// Failures of a wire to a remote: the remote could not be reached, went away, or went silent.
// They end the session and the Connection backs off; they are never about the data.
import { KilnError } from "../util/errors.js";

/** A network failure talking to a remote (refused, reset, a bad response), naming the transport. */
export class TransportError extends KilnError {
  constructor(
    readonly transport: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super("transport", `${transport}: ${detail}`, options);
  }
}

/** A network call that took longer than its timeout. */
export class TimeoutError extends TransportError {}
