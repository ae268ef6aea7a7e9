// A SyncServer over HTTP: every request is one POST of one message to the base URL; the
// answer is a stream of length-prefixed messages. Live heads come from long-poll pulls
// (pull.wait), which the Connection runs in a loop.
import { createDeferred } from "../util/deferred.js";
import {
  CONTENT_TYPE,
  decodeServerMessage,
  encodeMessage,
  FrameReader,
  PROTOCOL_VERSIONS,
  ProtocolError,
} from "./protocol/index.js";
import type {
  ClientMessage,
  ServerMessage,
  Welcome,
} from "./protocol/index.js";
import type { Remote } from "./remote.js";
import {
  createRemoteUploads,
  requestPublishSnapshot,
  requestPull,
  requestPush,
} from "./remote-requests.js";
import type { RequestContext } from "./remote-requests.js";
import type { ServerEndpoint } from "./server-endpoint.js";
import { TimeoutError, TransportError } from "./transport-error.js";

export interface HttpOptions {
  /** Silence (no response bytes) after which a request fails; long-polls add their wait. */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_HTTP_OPTIONS: HttpOptions = { requestTimeoutMs: 30_000 };

/** Most frames a response may hold before the client gives up on it (a runaway server). */
const MAX_RESPONSE_FRAME = 256 << 20;

export async function openHttpRemote(
  endpoint: ServerEndpoint,
  options: HttpOptions = DEFAULT_HTTP_OPTIONS,
  signal?: AbortSignal,
): Promise<{ remote: Remote; welcome: Welcome }> {
  let nextId = 1;
  const ended = createDeferred<Error>();
  const closing = new AbortController();

  /** Posts one message; calls onMessage for each answer until it returns true. */
  const exchange = async (
    message: ClientMessage,
    onMessage: (m: ServerMessage) => Promise<boolean>,
    extraMs = 0,
    signal?: AbortSignal,
  ): Promise<void> => {
    const silence = new AbortController();
    const limit = options.requestTimeoutMs + extraMs;
    let timer = setTimeout(() => silence.abort(), limit);
    const rearm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => silence.abort(), options.requestTimeoutMs);
    };
    const signals = [silence.signal, closing.signal];
    if (signal) signals.push(signal);
    try {
      const response = await fetch(endpoint.httpUrl, {
        method: "POST",
        headers: {
          "content-type": CONTENT_TYPE,
          ...(endpoint.token
            ? { authorization: `Bearer ${endpoint.token}` }
            : {}),
        },
        body: encodeMessage(message) as Uint8Array<ArrayBuffer>,
        signal: AbortSignal.any(signals),
      });
      if (!response.body)
        throw new TransportError(
          "http",
          `HTTP ${response.status} without body`,
        );
      const isFrames = (response.headers.get("content-type") ?? "").includes(
        "kiln.frames",
      );
      if (!isFrames) {
        await response.body.cancel();
        throw new TransportError(
          "http",
          `HTTP ${response.status} from ${endpoint.shownUrl} is not a Kiln answer`,
        );
      }
      const frames = new FrameReader(MAX_RESPONSE_FRAME);
      const reader = response.body.getReader();
      let done = false;
      while (!done) {
        const chunk = await reader.read();
        rearm();
        if (chunk.done) {
          frames.end();
          throw new ProtocolError(
            "bad-frame",
            `the answer to ${message.t} ended early`,
          );
        }
        for (const frame of frames.push(chunk.value)) {
          const m = decodeServerMessage(frame, MAX_RESPONSE_FRAME);
          if (m.t === "error") throw new ProtocolError(m.reason, m.message);
          if (done)
            throw new ProtocolError(
              "bad-frame",
              "frames after the last answer",
            );
          done = await onMessage(m);
        }
      }
      await reader.cancel();
    } catch (error) {
      if (silence.signal.aborted)
        throw new TimeoutError(
          "http",
          `no answer to ${message.t} from ${endpoint.shownUrl} in ${limit} ms`,
        );
      if (closing.signal.aborted)
        throw new TransportError("http", "closed by the client");
      if (error instanceof ProtocolError || error instanceof TransportError)
        throw error;
      if (signal?.aborted) throw error;
      throw new TransportError(
        "http",
        `${message.t} to ${endpoint.shownUrl} failed: ${describe(error)}`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  };

  let welcome: Welcome | undefined;
  await exchange(
    {
      t: "hello",
      id: nextId++,
      v: [...PROTOCOL_VERSIONS],
      ...(endpoint.token ? { tokens: [endpoint.token] } : {}),
      client: "kiln",
    },
    (m) => {
      if (m.t !== "welcome")
        throw new ProtocolError("bad-message", `expected welcome, got ${m.t}`);
      welcome = m;
      return Promise.resolve(true);
    },
    0,
    signal,
  );
  const w = welcome!;
  const ctx: RequestContext = {
    exchange: (message, onReply, options = {}) =>
      exchange(message, onReply, options.waitMs ?? 0, options.signal),
    ledger: endpoint.ledger,
    nextId: () => nextId++,
  };
  const uploads =
    w.uploadMin === undefined
      ? undefined
      : createRemoteUploads(ctx, w.uploadMin);

  const remote: Remote = {
    transport: "http",
    limits: { maxMessage: w.maxMessage, maxCommits: w.maxCommits },
    live: "poll",
    onLive: undefined,
    ended: ended.promise,
    uploads,

    pull: (have, onBatch, pullOptions = {}) =>
      requestPull(ctx, have, onBatch, pullOptions),
    push: (commits, heads, uploaded) =>
      requestPush(ctx, commits, heads, uploaded),
    publishSnapshot: (snapshot, options) =>
      requestPublishSnapshot(ctx, snapshot, options),

    close() {
      closing.abort();
      ended.resolve(new TransportError("http", "closed by the client"));
      return Promise.resolve();
    },
  };
  return { remote, welcome: w };
}

/** fetch() rejects with "fetch failed"; the reason (ECONNREFUSED, …) is in its cause. */
function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })
    ?.cause;
  return (
    cause?.code ??
    cause?.message ??
    (error instanceof Error ? error.message : String(error))
  );
}
