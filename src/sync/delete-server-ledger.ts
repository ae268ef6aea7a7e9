// deleteServerLedger: deletes a ledger from a SyncServer (every commit, head and snapshot of
// it), for a holder of a write token for that ledger. One HTTP exchange (`delete`, answered by
// `deleted`, docs/protocol.md); a ws(s):// URL is asked over its http(s):// twin.
import {
  CONTENT_TYPE,
  decodeServerMessage,
  encodeMessage,
  FrameReader,
  ProtocolError,
} from "./protocol/index.js";
import { InvalidArgumentError } from "../util/errors.js";
import { TransportError } from "./transport-error.js";

/** Where to delete a ledger, and the token that allows it. */
export interface DeleteServerLedgerOptions {
  /** The SyncServer: http(s):// or ws(s)://, at any base path. */
  server: string;
  /** A bearer token with write rights for the ledger (when the server needs one). */
  token?: string;
  /** Gives up after this many milliseconds (default 30,000). */
  timeoutMs?: number;
}

const MAX_ANSWER = 64 * 1024;

/**
 * Deletes `ledger` from the SyncServer `options.server`: every commit, head and snapshot of
 * it (docs/protocol.md, `delete`). Resolves once nothing of it remains in the server's
 * storage; rejects with the server's refusal (`forbidden` without a write token for it).
 */
export async function deleteServerLedger(
  ledger: string,
  options: DeleteServerLedgerOptions,
): Promise<void> {
  let url: URL;
  try {
    url = new URL(options.server);
  } catch {
    throw new InvalidArgumentError(
      `deleteServerLedger: ${JSON.stringify(options.server)} is not a URL`,
    );
  }
  if (url.protocol === "ws:" || url.protocol === "wss:")
    url.protocol = url.protocol === "ws:" ? "http:" : "https:";
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new InvalidArgumentError(
      `deleteServerLedger: ${url.origin} is not a SyncServer URL (http, https, ws or wss)`,
    );
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": CONTENT_TYPE,
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
      body: encodeMessage({
        t: "delete",
        id: 1,
        ledger,
      }) as Uint8Array<ArrayBuffer>,
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (cause) {
    throw new TransportError(
      "http",
      `delete ledger at ${url.origin}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  const frames = new FrameReader(MAX_ANSWER);
  const body = new Uint8Array(await response.arrayBuffer());
  if (!(response.headers.get("content-type") ?? "").includes("kiln.frames"))
    throw new TransportError(
      "http",
      `HTTP ${response.status} from ${url.origin} is not a Kiln answer`,
    );
  const answers = frames.push(body);
  frames.end();
  const answer = answers[0] && decodeServerMessage(answers[0], MAX_ANSWER);
  if (answer?.t === "error")
    throw new ProtocolError(answer.reason, answer.message);
  if (answer?.t !== "deleted" || answer.ledger !== ledger)
    throw new ProtocolError(
      "bad-message",
      `the answer to delete is ${answer ? answer.t : "empty"}, not deleted`,
    );
}
