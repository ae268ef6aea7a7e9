// `kiln serve`'s command line as typed values: main.ts hands over the strings it parsed, and
// each is checked here once (a bad value is a usage error, exit 2) before anything opens.
import { isIPv4 } from "node:net";
import type { ServerLimits } from "../server/server-limits.js";
import { normalizeOrigin } from "../server/origin-policy.js";
import type { LogFormat } from "./serve-log.js";

export interface ServeOptions {
  port: string;
  host: string;
  storage: string;
  secret: string | undefined;
  verbose: boolean;
  /** How log records are written (serve-log.ts); default json. */
  logFormat?: LogFormat;
  maxConnections?: string | undefined;
  maxConnectionsPerAddress?: string | undefined;
  /** --ledger-quota: bytes (with an optional KiB/MiB/GiB/TiB suffix), or "none". */
  ledgerQuota?: string | undefined;
  /** Reverse proxies whose X-Forwarded-For names the client ("loopback" or addresses). */
  trustProxy?: readonly string[];
  /** --allow-origin, repeatable; undefined: the default policy (docs/security.md). */
  allowOrigins?: readonly string[] | undefined;
  /** host:port for /metrics, /livez and /readyz (docs/deploy.md, "Operating it"). */
  metricsListen?: string | undefined;
}

/** What the options say, checked. */
export interface ServeConfig {
  port: number;
  limits: Partial<ServerLimits>;
  metrics: { host: string; port: number } | undefined;
}

/** The checked options, or the usage error to print (without the "kiln serve: " prefix). */
export function parseServeOptions(options: ServeOptions): ServeConfig | string {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    return `--port must be a port number, not ${options.port}`;
  const limits: Partial<ServerLimits> = {};
  for (const [flag, key, text] of [
    ["--max-connections", "maxConnections", options.maxConnections],
    [
      "--max-connections-per-address",
      "maxConnectionsPerAddress",
      options.maxConnectionsPerAddress,
    ],
  ] as const) {
    if (text === undefined) continue;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1)
      return `${flag} must be a positive integer, not ${text}`;
    limits[key] = n;
  }
  if (options.ledgerQuota !== undefined) {
    const quota = parseByteSize(options.ledgerQuota);
    if (quota === undefined)
      return `--ledger-quota takes a size like 1073741824, 512MiB or 2GiB (or none), not ${options.ledgerQuota}`;
    limits.ledgerQuota = quota;
  }
  for (const origin of options.allowOrigins ?? [])
    try {
      normalizeOrigin(origin);
    } catch (error) {
      return `--allow-origin: ${error instanceof Error ? error.message : String(error)}`;
    }
  let metrics: ServeConfig["metrics"];
  if (options.metricsListen !== undefined) {
    const m = /^(.+):(\d{1,5})$/.exec(options.metricsListen);
    const metricsPort = Number(m?.[2]);
    if (!m || metricsPort > 65535)
      return `--metrics-listen takes host:port (like 127.0.0.1:9464), not ${options.metricsListen}`;
    metrics = { host: m[1]!.replace(/^\[|\]$/g, ""), port: metricsPort };
  }
  if (options.secret === undefined && !isLoopback(options.host))
    return `refusing to listen on ${options.host} without a secret: anyone who can reach it could read and write every ledger. Set KILN_SECRET (or --secret), or listen on 127.0.0.1.`;
  return { port, limits, metrics };
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** "1048576", "512MiB", "2 GiB" → bytes; "none" → Infinity; undefined when not a size ≥ 1. */
export function parseByteSize(text: string): number | undefined {
  if (text.trim().toLowerCase() === "none") return Infinity;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = UNITS[m?.[2]?.toLowerCase() ?? "?"];
  if (!m || unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes >= 1 ? bytes : undefined;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  return isIPv4(v4) && v4.startsWith("127.");
}
