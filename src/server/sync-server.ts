// The SyncServer: a fetch(Request) → Response handler plus a WebSocket acceptor over one
// Backend. `listen` runs both on node:http; it is loaded on demand, so a serverless runtime
// that only calls `fetch` never loads Node's HTTP code.
import { nodeSigning } from "../trust/node-signing.js";
import type { SigningProvider } from "../trust/signing.js";
import type { WebSocket } from "ws";
import { InvalidArgumentError } from "../util/errors.js";
import { bearerToken, checkSecret } from "./auth.js";
import { createOriginPolicy } from "./origin-policy.js";
import type { Backend } from "./backend.js";
import { guardBackend } from "./backend-guard.js";
import { HttpHandler } from "./http-handler.js";
import { LedgerService } from "./ledger-service.js";
import type { TransportName } from "./ledger-service.js";
import type { TrustProxy } from "./client-address.js";
import { SendBudget } from "./send-queue.js";
import { defaultLimits } from "./server-limits.js";
import type { ServerLimits } from "./server-limits.js";
import { safeLog } from "./server-event.js";
import type { ServerLog } from "./server-event.js";
import { CLOSE, WsSession } from "./ws-session.js";

/** Largest message a SyncServer accepts by default, in bytes. */
export const DEFAULT_MAX_MESSAGE = 8 * 1024 * 1024;
/** Most commits one push or pull message may carry by default. */
export const DEFAULT_MAX_COMMITS = 10_000;
/** Longest HTTP long-poll wait by default, in milliseconds. */
export const DEFAULT_POLL_CAP = 25_000;
/** Interval of WebSocket heartbeats by default, in milliseconds. */
export const DEFAULT_HEARTBEAT = 30_000;
/** How long a shutdown waits for a WebSocket's requests in flight. */
export const DEFAULT_DRAIN_GRACE = 10_000;

/** Which transports a SyncServer offers. */
export interface Transports {
  ws: boolean;
  http: boolean;
}

/** Options of createSyncServer(). */
export interface SyncServerOptions {
  backend: Backend;
  /** HMAC key for bearer tokens (at least 16 characters). Without one, anyone may read and write. */
  secret?: string;
  /** Largest message accepted, in bytes (default 8 MiB). */
  maxMessage?: number;
  /** Most commits in one push (default 10,000). */
  maxCommits?: number;
  /** Transports accepted (default both). */
  transports?: Partial<Transports>;
  /** Longest an HTTP long-poll is held, in milliseconds (default 25,000). */
  pollCap?: number;
  log?: ServerLog;
  /**
   * How often WebSockets get a ping frame, in milliseconds (default 30,000); a peer that
   * has not answered one by the next is dropped.
   */
  heartbeat?: number;
  /** Milliseconds since the epoch (default Date.now), for token expiry. */
  clock?: () => number;
  /**
   * Ed25519, to check that a membered ledger's pushes are signed by its members (default
   * node:crypto; docs/security.md, "What the SyncServer checks").
   */
  signing?: SigningProvider;
  /** Resource budgets; each defaults as server-limits.ts (and docs/deploy.md) says. */
  limits?: Partial<ServerLimits>;
  /**
   * Reverse proxies whose X-Forwarded-For names the client ("loopback", or exact
   * addresses); default none: forwarded headers are ignored.
   */
  trustProxy?: TrustProxy;
  /**
   * Web origins whose pages may call the server, over HTTP (CORS) and WebSocket (the
   * upgrade's Origin header): `http(s)://host[:port]`, or `*`. Default: any with a secret,
   * loopback origins only without one (docs/security.md). Clients that send no Origin
   * (Node, curl) are not affected.
   */
  allowOrigins?: readonly string[];
}

/** What the server needs of the HTTP request that was upgraded to a WebSocket. */
export interface WebSocketRequest {
  headers?: Headers | Readonly<Record<string, string | string[] | undefined>>;
  remoteAddress?: string;
}

/** Where listen() binds. */
export interface ListenOptions {
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
}

/** A SyncServer listening on a port. */
export interface Listener {
  readonly url: string;
  readonly port: number;
  /** Stops accepting, closes this listener's WebSockets and connections. */
  close(): Promise<void>;
}

/** Counters of a running SyncServer. */
export interface SyncServerStats {
  /** Open WebSocket sessions. */
  connections: number;
  /** Open HTTP connections (not upgraded to a WebSocket) on the ports of listen(). */
  httpConnections: number;
  /** Live subscriptions of those sessions. */
  subscriptions: number;
  /** Backend watchers open (subscriptions plus held long-polls). */
  watches: number;
  /** HTTP long-polls held now. */
  polls: number;
  /** HTTP POST requests answered since start. */
  requests: number;
  /** WebSocket messages received since start. */
  messages: number;
  /**
   * Bytes of client messages received since start, WebSocket messages and HTTP request
   * bodies together (commits uploaded directly to the backend's store are not among them).
   */
  bytesReceived: number;
  /** Outgoing WebSocket bytes queued and not yet taken by their peers. */
  queuedBytes: number;
  /** Connections refused for the connection caps since start. */
  refusedConnections: number;
}

/** The self-hostable sync service: a fetch handler plus a WebSocket acceptor. */
export interface SyncServer {
  /** Answers one HTTP request (the handler a serverless host calls). */
  fetch(request: Request): Promise<Response>;
  /** Takes over an upgraded `ws` WebSocket. */
  acceptWebSocket(socket: WebSocket, request?: WebSocketRequest): void;
  /** Serves HTTP and WebSocket on a port (Node). */
  listen(options: ListenOptions): Promise<Listener>;
  readonly transports: Readonly<Transports>;
  /**
   * Turns transports on or off at runtime. Turning WebSocket off refuses upgrades and closes
   * open sessions (their clients fall back to HTTP); turning HTTP off refuses pull and push
   * over HTTP as `unavailable`. One must stay on.
   */
  setTransports(transports: Partial<Transports>): void;
  /** Current counters. */
  stats(): SyncServerStats;
  /**
   * Revokes the bearer token with this id (its `jti`, see tokenId): recorded in the backend,
   * so every server process on it refuses the token from its next request, and closes the
   * WebSocket sessions that use it.
   */
  revokeToken(id: string): Promise<void>;
  /**
   * Shuts down: refuses new connections and requests, answers held polls, lets each
   * WebSocket finish the requests it already sent (up to `drainGrace`, default 10 s) and
   * closes it with 1001, then closes every listener (HTTP requests in flight get a grace of
   * their own). The backend stays open.
   */
  close(options?: { drainGrace?: number }): Promise<void>;
}

/** A SyncServer over a backend, with optional bearer-token auth (`secret`). */
export function createSyncServer(options: SyncServerOptions): SyncServer {
  const maxMessage = options.maxMessage ?? DEFAULT_MAX_MESSAGE;
  const maxCommits = options.maxCommits ?? DEFAULT_MAX_COMMITS;
  const pollCap = options.pollCap ?? DEFAULT_POLL_CAP;
  if (options.heartbeat !== undefined && !(options.heartbeat >= 10))
    throw new InvalidArgumentError(
      "sync server: heartbeat must be at least 10 ms",
    );
  if (!Number.isSafeInteger(maxMessage) || maxMessage < 1024)
    throw new InvalidArgumentError(
      "sync server: maxMessage must be an integer of at least 1024",
    );
  if (!Number.isSafeInteger(maxCommits) || maxCommits < 1)
    throw new InvalidArgumentError(
      "sync server: maxCommits must be a positive integer",
    );
  if (!(pollCap >= 0))
    throw new InvalidArgumentError("sync server: pollCap must be >= 0");
  if (options.secret !== undefined) checkSecret(options.secret);
  const limits = checkLimits({
    ...defaultLimits(maxMessage),
    ...options.limits,
  });
  const trustProxy = [...(options.trustProxy ?? [])];
  const budget = new SendBudget(limits.maxQueuedBytesTotal);
  let refusedConnections = 0;
  const origins = createOriginPolicy({
    allowOrigins: options.allowOrigins,
    hasSecret: options.secret !== undefined,
  });

  let transports = checkTransports({
    ws: options.transports?.ws ?? true,
    http: options.transports?.http ?? true,
  });
  const log = safeLog(options.log);
  const closing = new AbortController();
  const sessions = new Set<WsSession>();
  /** Each listener of listen(), with its count of open HTTP connections. */
  const listeners = new Map<Listener, () => number>();
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let closedMessages = 0;
  /** WebSocket sessions accepted so far: names each in the log. */
  let sessionCount = 0;
  let closedBytes = 0;

  const service = new LedgerService({
    backend: guardBackend(options.backend),
    secret: options.secret,
    maxMessage,
    maxCommits,
    clock: options.clock ?? Date.now,
    transports: () => (["ws", "http"] as const).filter((t) => transports[t]),
    pushBytesPerSecond: limits.pushBytesPerSecond,
    pushBurst: limits.pushBurst,
    ledgerQuota: limits.ledgerQuota,
    signing: options.signing ?? nodeSigning,
  });
  const http = new HttpHandler({
    service,
    isEnabled: (t: TransportName) => transports[t],
    pollCap,
    closing: closing.signal,
    log,
    origins,
  });

  // A revocation heard from any process ends this process's sessions that used the token.
  const stopRevoked = service.onRevoked(() => {
    for (const s of sessions) void s.endIfRevoked();
  });

  const closeSessions = (code: number, reason: string) =>
    Promise.all([...sessions].map((s) => s.close(code, reason)));

  const server: SyncServer = {
    async fetch(request) {
      try {
        return await http.handle(request);
      } catch (error) {
        log({ kind: "failure", transport: "http", error });
        return new Response("internal error", { status: 500 });
      }
    },

    acceptWebSocket(socket, request = {}) {
      const origin = header(request.headers, "origin");
      if (!origins.allows(origin)) {
        socket.close(CLOSE.policy, `origin ${origin} is not allowed`);
        return;
      }
      if (closing.signal.aborted || !transports.ws) {
        socket.close(
          closing.signal.aborted ? CLOSE.goingAway : CLOSE.policy,
          closing.signal.aborted
            ? "the server is closing"
            : "the WebSocket transport is turned off",
        );
        return;
      }
      const session = new WsSession({
        socket,
        service,
        upgradeToken: bearerToken(header(request.headers, "authorization")),
        remote: request.remoteAddress,
        id: `ws-${++sessionCount}`,
        limits: { ...limits, maxPayload: 4 * maxMessage },
        budget,
        log,
        onClose: (s) => {
          closedMessages += s.messages;
          closedBytes += s.bytes;
          sessions.delete(s);
          if (sessions.size === 0 && heartbeat !== undefined) {
            clearInterval(heartbeat);
            heartbeat = undefined;
          }
        },
      });
      sessions.add(session);
      if (heartbeat === undefined) {
        heartbeat = setInterval(() => {
          for (const s of sessions) s.heartbeat();
        }, options.heartbeat ?? DEFAULT_HEARTBEAT);
        // A heartbeat alone should not keep a Node process alive.
        (heartbeat as { unref?: () => void }).unref?.();
      }
    },

    async listen(listenOptions) {
      if (closing.signal.aborted)
        throw new InvalidArgumentError("sync server: listen after close");
      const { listenNode } = await import("./node-listen.js");
      const listener = await listenNode({
        port: listenOptions.port,
        host: listenOptions.host ?? "127.0.0.1",
        maxPayload: 4 * maxMessage,
        maxConnections: limits.maxConnections,
        maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
        headersTimeout: limits.headersTimeout,
        requestTimeout: limits.requestTimeout,
        trustProxy,
        onRefused: (reason, address) => {
          refusedConnections++;
          log({
            kind: "refused",
            transport: "http",
            reason: "unavailable",
            message:
              reason === "connections"
                ? `connection refused: ${limits.maxConnections} connections are open`
                : `connection refused: ${limits.maxConnectionsPerAddress} connections from this address are open`,
            ...(address !== undefined ? { remote: address } : {}),
          });
        },
        fetch: (request) => server.fetch(request),
        isWebSocketEnabled: () => transports.ws && !closing.signal.aborted,
        isOriginAllowed: (origin) => origins.allows(origin),
        acceptWebSocket: (socket, request) =>
          server.acceptWebSocket(socket, request),
      });
      const tracked: Listener = {
        url: listener.url,
        port: listener.port,
        close: async () => {
          listeners.delete(tracked);
          await listener.close();
        },
      };
      listeners.set(tracked, () => listener.connections().http);
      return tracked;
    },

    get transports() {
      return { ...transports };
    },

    setTransports(change) {
      const next = checkTransports({ ...transports, ...change });
      const wsOff = transports.ws && !next.ws;
      transports = next;
      if (wsOff)
        void closeSessions(
          CLOSE.goingAway,
          "the WebSocket transport is turned off",
        );
    },

    stats() {
      let subscriptions = 0;
      let messages = closedMessages;
      let bytesReceived = closedBytes + http.bytes;
      for (const s of sessions) {
        subscriptions += s.subscriptions;
        messages += s.messages;
        bytesReceived += s.bytes;
      }
      let httpConnections = 0;
      for (const count of listeners.values()) httpConnections += count();
      return {
        connections: sessions.size,
        httpConnections,
        subscriptions,
        watches: service.watches,
        polls: http.polls,
        requests: http.requests,
        messages,
        bytesReceived,
        queuedBytes: budget.bytes,
        refusedConnections,
      };
    },

    revokeToken: (id) => service.revokeToken(id),

    async close(closeOptions) {
      closing.abort();
      stopRevoked();
      const grace = closeOptions?.drainGrace ?? DEFAULT_DRAIN_GRACE;
      await Promise.all([...sessions].map((s) => s.drain(grace)));
      service.stop();
      await Promise.all([...listeners.keys()].map((l) => l.close()));
    },
  };
  return server;
}

function checkLimits(limits: ServerLimits): ServerLimits {
  for (const [name, value] of Object.entries(limits))
    if (
      !(Number.isSafeInteger(value) && (value as number) >= 1) &&
      !(name === "ledgerQuota" && value === Infinity)
    )
      throw new InvalidArgumentError(
        `sync server: limits.${name} must be a positive integer${name === "ledgerQuota" ? " or Infinity" : ""}`,
      );
  return limits;
}

function checkTransports(t: Transports): Transports {
  if (!t.ws && !t.http)
    throw new InvalidArgumentError(
      "sync server: at least one transport (ws or http) must stay on",
    );
  return t;
}

function header(
  headers: WebSocketRequest["headers"],
  name: string,
): string | null {
  if (headers === undefined) return null;
  if (headers instanceof Headers) return headers.get(name);
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}
