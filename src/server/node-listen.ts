// The SyncServer on node:http: requests become fetch Requests (bodies streamed both ways, never
// buffered here), and WebSocket upgrades go to a `ws` server without its own port. The only
// server file that knows Node's HTTP types.
import { createServer, STATUS_CODES } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { WebSocket } from "ws";
import { clientAddress, isTrustedProxy } from "./client-address.js";
import type { TrustProxy } from "./client-address.js";

/** After close begins, how long in-flight requests and sockets get before they are cut. */
const CLOSE_GRACE = 2_000;

export interface NodeListenOptions {
  port: number;
  host: string;
  /** Largest WebSocket frame `ws` reads at all; the session refuses more than maxMessage. */
  maxPayload: number;
  /** Open connections in all, and from one client address (refused at once beyond). */
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** Milliseconds for a request's headers, and for the whole request, to arrive. */
  headersTimeout: number;
  requestTimeout: number;
  /** Reverse proxies whose X-Forwarded-For names the client (client-address.ts). */
  trustProxy: TrustProxy;
  /** Told of every connection refused for a cap. */
  onRefused: (reason: "connections" | "address", address?: string) => void;
  fetch: (request: Request) => Promise<Response>;
  isWebSocketEnabled: () => boolean;
  /** The upgrade's Origin header (undefined: none) against the origin policy. */
  isOriginAllowed: (origin: string | undefined) => boolean;
  acceptWebSocket: (
    socket: WebSocket,
    request: { headers: IncomingMessage["headers"]; remoteAddress?: string },
  ) => void;
}

export interface NodeListener {
  url: string;
  port: number;
  /** Open connections by transport: plain HTTP ones, and those upgraded to WebSockets. */
  connections(): { http: number; ws: number };
  close(): Promise<void>;
}

export async function listenNode(
  options: NodeListenOptions,
): Promise<NodeListener> {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload,
    perMessageDeflate: false,
  });
  let closing: Promise<void> | undefined;
  // Requests in flight per connection: on close, a connection without one is cut at once
  // (Node's closeIdleConnections skips those that never carried a request).
  const inFlight = new Map<Socket, number>();
  const perAddress = new Map<string, number>();
  const count = (address: string, delta: number) => {
    const n = (perAddress.get(address) ?? 0) + delta;
    if (n <= 0) perAddress.delete(address);
    else perAddress.set(address, n);
  };
  /** Counts a connection from `address`; false (nothing counted) when it is over the cap. */
  const admit = (address: string | undefined, release: Socket): boolean => {
    if (address === undefined) return true;
    if ((perAddress.get(address) ?? 0) >= options.maxConnectionsPerAddress) {
      options.onRefused("address", address);
      return false;
    }
    count(address, 1);
    release.once("close", () => count(address, -1));
    return true;
  };
  const server = createServer(
    {
      headersTimeout: options.headersTimeout,
      requestTimeout: options.requestTimeout,
      // How often Node checks those timeouts (its default, 30 s, would let them run long).
      connectionsCheckingInterval: Math.max(
        50,
        Math.min(1000, Math.floor(options.headersTimeout / 4)),
      ),
    },
    (req, res) => {
      const socket = req.socket;
      inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
      res.once("close", () => {
        const left = (inFlight.get(socket) ?? 1) - 1;
        inFlight.set(socket, left);
        if (left === 0 && closing !== undefined) socket.destroy();
      });
      void serve(req, res, options.fetch, origin, () => closing !== undefined);
    },
  );
  server.on("connection", (socket: Socket) => {
    // Caps first: a refused connection costs one accept and one close.
    // WebSockets count too: an upgraded connection leaves inFlight for wss.clients.
    if (inFlight.size + wss.clients.size >= options.maxConnections) {
      options.onRefused("connections");
      socket.destroy();
      return;
    }
    // Behind a trusted proxy every client shares the proxy's address: the cap applies to
    // the forwarded address of each upgrade instead (below).
    const peer = socket.remoteAddress;
    if (!isTrustedProxy(peer, options.trustProxy) && !admit(peer, socket)) {
      socket.destroy();
      return;
    }
    inFlight.set(socket, 0);
    socket.once("close", () => inFlight.delete(socket));
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    inFlight.delete(req.socket); // no longer an HTTP connection: ws closes it
    if (req.headers.upgrade?.toLowerCase() !== "websocket")
      return refuseUpgrade(socket, 400, "only WebSocket upgrades are served");
    // A page of an origin not admitted: refused before the handshake (CORS does not cover
    // WebSockets, so this is the only check a cross-site page meets).
    if (!options.isOriginAllowed(req.headers.origin))
      return refuseUpgrade(
        socket,
        403,
        `origin ${req.headers.origin} is not allowed`,
      );
    // 403, not 101: a client falls back to HTTP when its upgrade is refused.
    if (!options.isWebSocketEnabled())
      return refuseUpgrade(
        socket,
        403,
        "the WebSocket transport is turned off; POST messages over HTTP",
      );
    const peer = req.socket.remoteAddress;
    const forwarded = req.headers["x-forwarded-for"];
    const address = clientAddress(
      peer,
      Array.isArray(forwarded) ? forwarded.join(",") : forwarded,
      options.trustProxy,
    );
    if (isTrustedProxy(peer, options.trustProxy) && !admit(address, req.socket))
      return refuseUpgrade(
        socket,
        503,
        "too many connections from this address",
      );
    wss.handleUpgrade(req, socket, head, (ws) =>
      options.acceptWebSocket(ws, {
        headers: req.headers,
        ...(address !== undefined ? { remoteAddress: address } : {}),
      }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const origin = `http://${host}:${port}`;

  return {
    url: origin,
    port,
    connections: () => ({ http: inFlight.size, ws: wss.clients.size }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        const cut = setTimeout(() => {
          server.closeAllConnections();
          for (const ws of wss.clients) ws.terminate();
        }, CLOSE_GRACE);
        server.close(() => {
          clearTimeout(cut);
          wss.close(() => resolve());
        });
        server.closeIdleConnections();
        for (const [socket, n] of inFlight) if (n === 0) socket.destroy();
        for (const ws of wss.clients) ws.close(1001, "the server is closing");
      });
      return closing;
    },
  };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  fetch: (request: Request) => Promise<Response>,
  origin: string,
  isClosing: () => boolean,
): Promise<void> {
  const aborted = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) aborted.abort();
  });
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  let response: Response;
  try {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers))
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else if (value !== undefined) headers.set(name, value);
    const request = new Request(new URL(req.url ?? "/", origin), {
      method,
      headers,
      signal: aborted.signal,
      ...(hasBody ? { body: bodyOf(req), duplex: "half" } : {}),
    });
    response = await fetch(request);
  } catch {
    response = new Response(null, { status: 400 });
  }
  if (aborted.signal.aborted) {
    // The client went away (its socket may linger half-open): drop both ends.
    await response.body?.cancel().catch(() => undefined);
    res.destroy();
    return;
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  // A body left unread (refused as too large) is not drained: the connection ends instead.
  // So is a connection of a closing listener, rather than idling until the grace ends.
  if ((hasBody && !req.complete) || isClosing()) headers.connection = "close";
  try {
    res.writeHead(response.status, headers);
    const body = response.body;
    if (!body || method === "HEAD") {
      res.end();
      await body?.cancel();
      return;
    }
    const reader = body.getReader();
    try {
      for (;;) {
        if (aborted.signal.aborted) {
          await reader.cancel();
          res.destroy();
          return;
        }
        const { done, value } = await reader.read();
        if (done) break;
        if (!res.write(value)) await drained(res);
      }
      res.end();
    } catch (error) {
      await reader.cancel(error).catch(() => undefined);
      res.destroy();
    }
  } catch {
    res.destroy();
  }
}

/** The request body as a web stream that pauses the socket rather than buffering. */
function bodyOf(req: IncomingMessage): ReadableStream<Uint8Array> {
  let finished = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Buffer) => {
        if (finished) return;
        controller.enqueue(
          new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
        );
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.on("end", () => {
        if (finished) return;
        finished = true;
        controller.close();
      });
      req.on("error", (error) => {
        if (finished) return;
        finished = true;
        controller.error(error);
      });
      req.pause();
    },
    pull() {
      req.resume();
    },
    cancel() {
      // Stop reading; the response then closes the connection (see `connection: close`).
      finished = true;
      req.pause();
    },
  });
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
      "Connection: close\r\n" +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
