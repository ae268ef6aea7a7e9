// How a Connection gets a Remote for each session. For a SyncServer this is where transport
// negotiation lives: prefer WebSocket, fall back to HTTP when the upgrade is refused or
// WebSocket keeps failing, and offer to move back to WebSocket once it works again.
import { isGoingAway } from "./transport-error.js";
import type { Gateway } from "../gateways/gateway.js";
import { backoffDelay } from "../util/backoff.js";
import type { BackoffOptions } from "../util/backoff.js";
import { realClock } from "../util/clock.js";
import type { Clock } from "../util/clock.js";
import { createGatewayRemote } from "./gateway-remote.js";
import { openHttpRemote } from "./http-remote.js";
import type { HttpOptions } from "./http-remote.js";
import { ProtocolError } from "./protocol/index.js";
import type { Sha256 } from "./protocol/index.js";
import type { Remote, Transport } from "./remote.js";
import type { ServerEndpoint } from "./server-endpoint.js";
import type { SocketLoader } from "./socket.js";
import { openWsRemote } from "./ws-remote.js";
import type { WsOptions } from "./ws-remote.js";

export interface RemoteOpener {
  /** Opens a remote; `signal` aborts the attempt (the connection is closing). */
  open(signal: AbortSignal): Promise<Remote>;
  /**
   * While a session runs on a fallback transport: resolves with a remote on the preferred
   * one once it opens, or undefined when `signal` aborts first.
   */
  upgrade?(current: Remote, signal: AbortSignal): Promise<Remote | undefined>;
  /** Told how each session ended, so a transport that keeps failing is avoided. */
  sessionEnded?(
    remote: Remote,
    livedMs: number,
    error: Error | undefined,
  ): void;
  close(): Promise<void>;
}

export interface ServerOpenerOptions {
  /** The platform's WebSocket class. */
  readonly socket: SocketLoader;
  readonly ws?: WsOptions;
  readonly http?: HttpOptions;
  /** Backoff before WebSocket is tried again after it failed. */
  readonly wsRetry?: BackoffOptions;
  /** A WebSocket session shorter than this that ends in an error counts as a failure. */
  readonly wsStableMs?: number;
  readonly clock?: Clock;
  /** The jitter's source, in [0, 1) (default Math.random). */
  readonly random?: () => number;
}

const DEFAULT_WS_RETRY: BackoffOptions = { baseMs: 2_000, maxMs: 60_000 };

export function createServerOpener(
  endpoint: ServerEndpoint,
  options: ServerOpenerOptions,
): RemoteOpener {
  return createNegotiatingOpener(
    {
      ws: (signal) =>
        openWsRemote(endpoint, options.socket, options.ws, signal),
      http: async (signal) =>
        (await openHttpRemote(endpoint, options.http, signal)).remote,
    },
    endpoint.transport,
    options,
  );
}

/** Opens a remote on one transport; `signal` aborts the attempt. */
export type OpenTransport = (signal: AbortSignal) => Promise<Remote>;

/**
 * Transport negotiation over two ways of opening one server: WebSocket first, HTTP when
 * WebSocket is refused or keeps failing, and back to WebSocket once it opens again.
 * `forced` (a URL's ?transport=) uses one transport only.
 */
export function createNegotiatingOpener(
  transports: { readonly ws: OpenTransport; readonly http: OpenTransport },
  forced: "ws" | "http" | undefined,
  options: Omit<ServerOpenerOptions, "ws" | "http" | "socket"> = {},
): RemoteOpener {
  const wsRetry = options.wsRetry ?? DEFAULT_WS_RETRY;
  const stableMs = options.wsStableMs ?? 30_000;
  const clock = options.clock ?? realClock;
  let wsFailures = 0;
  let wsRetryAt = 0;
  const delay = () => backoffDelay(wsFailures, wsRetry, options.random);
  const penalise = () => {
    wsRetryAt = clock.now() + delay();
    wsFailures++;
  };
  const { ws: openWs, http: openHttp } = transports;

  return {
    async open(signal) {
      if (forced === "http") return openHttp(signal);
      if (forced === "ws") return openWs(signal);
      if (clock.now() >= wsRetryAt) {
        try {
          return await openWs(signal);
        } catch (error) {
          // The server answered and refused (a bad token, no common version): HTTP would
          // be refused the same way, so that is the session's error, not a fallback.
          if (error instanceof ProtocolError || signal.aborted) throw error;
          penalise();
        }
      }
      return openHttp(signal);
    },

    async upgrade(current, signal) {
      if (forced || current.transport === "ws") return undefined;
      while (!signal.aborted) {
        await clock.sleep(Math.max(0, wsRetryAt - clock.now()), signal);
        if (signal.aborted) return undefined;
        try {
          const ws = await openWs(signal);
          if (!signal.aborted) return ws;
          await ws.close();
        } catch {
          penalise();
        }
      }
      return undefined;
    },

    sessionEnded(remote, livedMs, error) {
      if (remote.transport !== "ws" || forced) return;
      // A server shutting down (1001) says nothing about WebSockets on this path.
      if (isGoingAway(error)) return;
      if (!error || livedMs >= stableMs) {
        wsFailures = 0;
        return;
      }
      // One dropped socket is a reconnect; a second short-lived one in a row means
      // something between here and the server breaks WebSockets: use HTTP for a while.
      if (++wsFailures >= 2) wsRetryAt = clock.now() + delay();
    },

    close: () => Promise.resolve(),
  };
}

export function createGatewayOpener(
  gateway: Gateway,
  ledger: string,
  transport: Transport,
  isKnown: (cid: string) => boolean,
  sha256: Sha256,
): RemoteOpener {
  return {
    open: () =>
      Promise.resolve(
        createGatewayRemote(gateway, ledger, transport, isKnown, sha256),
      ),
    close: () => gateway.close(),
  };
}

/**
 * One remote reached through several servers (processes over one shared backend): opens
 * through the current one, and moves on to the next when opening fails or a session ends
 * in an error, so a dead server is left at once. Commits are content-addressed and pushes
 * idempotent, so moving mid-stream loses and duplicates nothing.
 */
export function createFailoverOpener(
  openers: readonly RemoteOpener[],
): RemoteOpener {
  let current = 0;
  const byRemote = new WeakMap<Remote, RemoteOpener>();
  const next = () => (current = (current + 1) % openers.length);
  return {
    async open(signal) {
      let last: unknown;
      for (let tried = 0; tried < openers.length; tried++) {
        const opener = openers[current]!;
        try {
          const remote = await opener.open(signal);
          byRemote.set(remote, opener);
          return remote;
        } catch (error) {
          if (signal.aborted) throw error;
          last = error;
          next();
        }
      }
      throw last;
    },
    async upgrade(remote, signal) {
      const better = await byRemote.get(remote)?.upgrade?.(remote, signal);
      if (better) byRemote.set(better, byRemote.get(remote)!);
      return better;
    },
    sessionEnded(remote, livedMs, error) {
      const opener = byRemote.get(remote);
      opener?.sessionEnded?.(remote, livedMs, error);
      if (error && opener === openers[current]) next();
    },
    async close() {
      await Promise.all(openers.map((o) => o.close()));
    },
  };
}
