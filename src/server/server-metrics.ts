// Operator metrics in Prometheus text format (prom-client), served apart from the sync
// endpoint (which answers at any path) on an address the operator chooses, with liveness and
// readiness: `kiln serve --metrics-listen 127.0.0.1:9464`. Counters follow the server's log
// events; gauges read its stats when scraped; backend calls are timed by wrapping the backend.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
} from "prom-client";
import type { Backend } from "./backend.js";
import type { ServerEvent } from "./server-event.js";
import type { SyncServer } from "./sync-server.js";

export interface ServerMetrics {
  /** Feed every server log event here. */
  readonly onEvent: (event: ServerEvent) => void;
  /** The backend, with every call timed; give this one to the SyncServer. */
  timed(backend: Backend): Backend;
  /** Starts the scrape endpoint: /metrics, /livez, /readyz. */
  listen(
    host: string,
    port: number,
  ): Promise<{ url: string; close(): Promise<void> }>;
  readonly registry: Registry;
}

/** Backend calls timed, by member name → operation label. */
const TIMED: Record<string, string | undefined> = {
  putCommits: "put-commits",
  getCommits: "get-commits",
  getMeta: "get-meta",
  getHeads: "get-heads",
  putSnapshot: "put-snapshot",
  getSnapshot: "get-snapshot",
  dropCommits: "drop-commits",
};

/** The ledger name a readiness probe reads (its head set; it is never written). */
const PROBE_LEDGER = "kiln-readiness-probe";

export function createServerMetrics(
  server: () => SyncServer | undefined,
  backend: () => Backend | undefined,
): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "kiln_" });
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  const pushes = counter("kiln_pushes_total", "Pushes that stored commits", [
    "transport",
  ]);
  const commits = counter(
    "kiln_commits_stored_total",
    "Commits stored by pushes",
    ["transport"],
  );
  const refusals = counter(
    "kiln_refusals_total",
    "Requests refused, by wire reason",
    ["transport", "reason"],
  );
  const storage = counter(
    "kiln_storage_failures_total",
    "Backend failures, by operation",
    ["operation"],
  );
  const failures = counter(
    "kiln_failures_total",
    "Unexpected failures (answered internal)",
    ["transport"],
  );
  const opened = counter("kiln_ws_opened_total", "WebSocket sessions opened");
  const fanOut = new Histogram({
    name: "kiln_fanout_lag_seconds",
    help: "From a stored change (as this process learned of it) to its delivery to one live subscriber or held long-poll",
    labelNames: ["transport"],
    buckets: [
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
      10,
    ],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "kiln_backend_seconds",
    help: "Backend call latency, by operation",
    labelNames: ["operation", "outcome"],
    buckets: [
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
      10,
    ],
    registers: [registry],
  });
  const stat = (
    name: string,
    help: string,
    read: (s: ReturnType<SyncServer["stats"]>) => number,
    labels?: Record<string, string>,
  ) =>
    new Gauge({
      name,
      help,
      ...(labels ? { labelNames: Object.keys(labels) } : {}),
      registers: [registry],
      collect() {
        const s = server()?.stats();
        if (s === undefined) return;
        if (labels) this.set(labels, read(s));
        else this.set(read(s));
      },
    });
  new Gauge({
    name: "kiln_connections",
    help: "Open connections by transport: WebSocket sessions, and plain HTTP connections",
    labelNames: ["transport"],
    registers: [registry],
    collect() {
      const s = server()?.stats();
      if (s === undefined) return;
      this.set({ transport: "ws" }, s.connections);
      this.set({ transport: "http" }, s.httpConnections);
    },
  });
  stat(
    "kiln_subscriptions",
    "Live subscriptions of WebSocket sessions",
    (s) => s.subscriptions,
  );
  stat(
    "kiln_http_polls",
    "HTTP long-polls held (transport http)",
    (s) => s.polls,
  );
  stat(
    "kiln_http_requests",
    "HTTP POST requests answered since start",
    (s) => s.requests,
  );
  stat(
    "kiln_bytes_received",
    "Bytes of client messages received since start",
    (s) => s.bytesReceived,
  );
  stat(
    "kiln_queued_bytes",
    "Outgoing WebSocket bytes queued, not yet read by peers",
    (s) => s.queuedBytes,
  );
  stat(
    "kiln_refused_connections",
    "Connections refused by the connection caps since start",
    (s) => s.refusedConnections,
  );
  stat(
    "kiln_watched_ledgers",
    "Backend watchers open (subscriptions and polls)",
    (s) => s.watches,
  );

  const onEvent = (event: ServerEvent): void => {
    switch (event.kind) {
      case "push":
        pushes.inc({ transport: event.transport });
        commits.inc({ transport: event.transport }, event.stored);
        return;
      case "refused":
        refusals.inc({ transport: event.transport, reason: event.reason });
        return;
      case "storage":
        storage.inc({ operation: event.operation });
        refusals.inc({ transport: event.transport, reason: "unavailable" });
        return;
      case "failure":
        failures.inc({ transport: event.transport });
        return;
      case "open":
        opened.inc();
        return;
      case "delivered":
        fanOut.observe({ transport: event.transport }, event.lag);
        return;
      case "close":
        return;
    }
  };

  const timed = (inner: Backend): Backend => {
    const time =
      <A extends unknown[], R>(
        operation: string,
        fn: (...args: A) => Promise<R>,
      ) =>
      async (...args: A): Promise<R> => {
        const end = latency.startTimer({ operation });
        try {
          const result = await fn(...args);
          end({ outcome: "ok" });
          return result;
        } catch (error) {
          end({ outcome: "error" });
          throw error;
        }
      };
    // Every member of the backend is passed on (bound), whatever duties the interface
    // gains; the calls that touch storage on the request path are timed.
    const out: Record<string, unknown> = {};
    const source = inner as unknown as Record<string, unknown>;
    for (
      let proto: object | null = inner;
      proto !== null && proto !== Object.prototype;
      proto = Object.getPrototypeOf(proto) as object | null
    )
      for (const key of Object.getOwnPropertyNames(proto)) {
        if (key === "constructor" || key in out) continue;
        const value = source[key];
        const operation = TIMED[key];
        out[key] =
          typeof value !== "function"
            ? value
            : operation !== undefined
              ? time(
                  operation,
                  (value as (...a: unknown[]) => Promise<unknown>).bind(inner),
                )
              : (value as (...a: unknown[]) => unknown).bind(inner);
      }
    return out as unknown as Backend;
  };

  const ready = async (): Promise<boolean> => {
    const b = backend();
    if (!b) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        b.getHeads(PROBE_LEDGER).then(() => true),
        new Promise<boolean>(
          (resolve) => (timer = setTimeout(() => resolve(false), 2000)),
        ),
      ]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    onEvent,
    timed,
    registry,
    async listen(host, port) {
      const http = createServer((req, res) => {
        const path = (req.url ?? "/").split("?")[0];
        const reply = (status: number, type: string, body: string) => {
          res.writeHead(status, {
            "content-type": type,
            "cache-control": "no-store",
          });
          res.end(body);
        };
        if (path === "/livez") return reply(200, "text/plain", "ok\n");
        if (path === "/readyz")
          return void ready().then((ok) =>
            reply(
              ok ? 200 : 503,
              "text/plain",
              ok ? "ready\n" : "backend unreachable\n",
            ),
          );
        if (path === "/metrics")
          return void registry.metrics().then(
            (text) => reply(200, registry.contentType, text),
            (error: unknown) => reply(500, "text/plain", String(error)),
          );
        reply(404, "text/plain", "try /metrics, /livez or /readyz\n");
      });
      await new Promise<void>((resolve, reject) => {
        http.once("error", reject);
        http.listen(port, host, () => resolve());
      });
      const { port: bound } = http.address() as AddressInfo;
      return {
        url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}`,
        close: () =>
          new Promise<void>((resolve) => {
            http.close(() => resolve());
            http.closeAllConnections();
          }),
      };
    },
  };
}
