// A SyncServer over one WebSocket: hello/welcome, then requests matched to replies by id,
// and live commits pushed by the server for ledgers this socket pulled with live: true.
import { createDeferred } from "../util/deferred.js";
import {
  decodeServerMessage,
  encodeMessage,
  PROTOCOL_VERSIONS,
  ProtocolError,
} from "./protocol/index.js";
import type { ClientMessage, ServerMessage } from "./protocol/index.js";
import type { Remote, RemoteLimits, RemoteUploads } from "./remote.js";
import type { ServerEndpoint } from "./server-endpoint.js";
import type { SocketLoader } from "./socket.js";
import {
  createRemoteUploads,
  requestPublishSnapshot,
  requestPull,
  requestPush,
  toCommits,
} from "./remote-requests.js";
import type { RequestContext } from "./remote-requests.js";
import { TimeoutError, TransportError } from "./transport-error.js";

export interface WsOptions {
  /** Opening the socket plus hello/welcome. */
  readonly openTimeoutMs: number;
  /** Silence on a request (no reply frame) after which it fails. */
  readonly requestTimeoutMs: number;
  /** A ping is sent after this much silence; twice this and the socket is given up. */
  readonly heartbeatMs: number;
}

export const DEFAULT_WS_OPTIONS: WsOptions = {
  openTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  heartbeatMs: 15_000,
};

interface Request {
  onMessage(message: ServerMessage): Promise<boolean>;
  fail(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export async function openWsRemote(
  endpoint: ServerEndpoint,
  loadSocket: SocketLoader,
  options: WsOptions = DEFAULT_WS_OPTIONS,
  signal?: AbortSignal,
): Promise<Remote> {
  const Socket = await loadSocket();
  const socket = new Socket(endpoint.wsUrl);
  socket.binaryType = "arraybuffer";
  const ended = createDeferred<Error>();
  const requests = new Map<number, Request>();
  let nextId = 1;
  let lastHeard = Date.now();
  let limits: RemoteLimits = { maxMessage: 1 << 20, maxCommits: 1000 };
  let uploads: RemoteUploads | undefined;
  let inbound: Promise<void> = Promise.resolve();
  let isEnded = false;

  const end = (error: Error): void => {
    if (isEnded) return;
    isEnded = true;
    clearInterval(heartbeat);
    for (const r of requests.values()) {
      clearTimeout(r.timer);
      r.fail(error);
    }
    requests.clear();
    try {
      socket.close(1000);
    } catch {
      // Closing a socket that never opened throws in some implementations; it is gone anyway.
    }
    ended.resolve(error);
  };

  const send = (message: ClientMessage): void => {
    if (isEnded) throw new TransportError("ws", "the socket is closed");
    socket.send(encodeMessage(message));
  };

  const request = (
    message: ClientMessage & { id: number },
    onMessage: Request["onMessage"],
  ): Promise<void> => {
    const done = createDeferred<void>();
    const arm = () =>
      setTimeout(() => {
        requests.delete(message.id);
        const error = new TimeoutError(
          "ws",
          `no reply to ${message.t} in ${options.requestTimeoutMs} ms`,
        );
        done.reject(error);
        // A server that stops answering one request cannot be trusted with the next.
        end(error);
      }, options.requestTimeoutMs);
    const entry: Request = {
      timer: arm(),
      fail: (e) => done.reject(e),
      onMessage: async (m) => {
        clearTimeout(entry.timer);
        if (m.t === "error") {
          requests.delete(message.id);
          done.reject(new ProtocolError(m.reason, m.message));
          return true;
        }
        const finished = await onMessage(m);
        if (finished) {
          requests.delete(message.id);
          done.resolve();
        } else entry.timer = arm();
        return finished;
      },
    };
    requests.set(message.id, entry);
    try {
      send(message);
    } catch (error) {
      clearTimeout(entry.timer);
      requests.delete(message.id);
      done.reject(error);
    }
    return done.promise;
  };

  const ctx: RequestContext = {
    exchange: (message, onReply) => request(message, onReply),
    ledger: endpoint.ledger,
    nextId: () => nextId++,
  };

  const remote: Remote = {
    transport: "ws",
    get limits() {
      return limits;
    },
    get uploads() {
      return uploads;
    },
    live: "push",
    onLive: undefined,
    ended: ended.promise,

    pull: (have, onBatch, pullOptions = {}) =>
      requestPull(ctx, have, onBatch, pullOptions),
    push: (commits, heads, uploaded) =>
      requestPush(ctx, commits, heads, uploaded),
    publishSnapshot: (snapshot) => requestPublishSnapshot(ctx, snapshot),

    close() {
      end(new TransportError("ws", "closed by the client"));
      return Promise.resolve();
    },
  };

  const onFrame = async (data: unknown): Promise<void> => {
    lastHeard = Date.now();
    if (!(data instanceof ArrayBuffer))
      return end(new ProtocolError("bad-frame", "server sent a text frame"));
    let message: ServerMessage;
    try {
      message = decodeServerMessage(new Uint8Array(data), Infinity);
    } catch (error) {
      return end(error as Error);
    }
    if (message.id === undefined) {
      if (message.t === "commits")
        remote.onLive?.({
          commits: toCommits(message.commits),
          heads: message.heads,
        });
      else if (message.t === "error")
        end(new ProtocolError(message.reason, message.message));
      return;
    }
    const r = requests.get(message.id);
    if (!r) return; // a reply to a request that already timed out
    try {
      await r.onMessage(message);
    } catch (error) {
      requests.delete(message.id);
      clearTimeout(r.timer);
      r.fail(error as Error);
      end(error as Error);
    }
  };

  socket.onmessage = (event) => {
    inbound = inbound.then(() => onFrame(event.data));
  };
  socket.onclose = (event) =>
    end(
      new TransportError(
        "ws",
        `socket closed (${event.code}${event.reason ? ` ${event.reason}` : ""})`,
      ),
    );
  socket.onerror = () => end(new TransportError("ws", "socket error"));

  const heartbeat = setInterval(() => {
    const silent = Date.now() - lastHeard;
    if (silent > 2 * options.heartbeatMs)
      end(new TimeoutError("ws", `server silent for ${silent} ms`));
    else if (silent > options.heartbeatMs && !isEnded)
      request({ t: "ping", id: nextId++ }, () => Promise.resolve(true)).catch(
        () => undefined, // the socket's end reports it
      );
  }, options.heartbeatMs / 3);
  (heartbeat as { unref?: () => void }).unref?.();

  // Open, then hello/welcome, within one timeout.
  const opened = createDeferred<void>();
  const openTimer = setTimeout(
    () =>
      end(
        new TimeoutError(
          "ws",
          `no welcome from ${endpoint.wsUrl} in ${options.openTimeoutMs} ms`,
        ),
      ),
    options.openTimeoutMs,
  );
  void ended.promise.then((e) => opened.reject(e));
  const onAbort = () => end(new TransportError("ws", "closed by the client"));
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  socket.onopen = () => {
    request(
      {
        t: "hello",
        id: nextId++,
        v: [...PROTOCOL_VERSIONS],
        ...(endpoint.token ? { tokens: [endpoint.token] } : {}),
        client: "kiln",
      },
      (m) => {
        if (m.t !== "welcome")
          throw new ProtocolError(
            "bad-message",
            `expected welcome, got ${m.t}`,
          );
        limits = { maxMessage: m.maxMessage, maxCommits: m.maxCommits };
        if (m.uploadMin !== undefined)
          uploads = createRemoteUploads(ctx, m.uploadMin);
        return Promise.resolve(true);
      },
    ).then(
      () => opened.resolve(),
      (e: Error) => {
        opened.reject(e);
        end(e);
      },
    );
  };
  try {
    await opened.promise;
  } finally {
    clearTimeout(openTimer);
    signal?.removeEventListener("abort", onAbort);
  }
  return remote;
}
