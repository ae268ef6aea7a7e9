// Which web pages may call the server: the Origin header of a browser's request (CORS) and
// of its WebSocket upgrade (which CORS does not cover). A request without an Origin header
// comes from no web page (a Node client, curl) and is not a cross-site risk: it is let
// through, and its rights are the bearer token's. Why this default: docs/security.md.
import { InvalidArgumentError } from "../util/errors.js";

export interface OriginPolicy {
  /** True when a request carrying this Origin header (or none) may be served. */
  allows(origin: string | null | undefined): boolean;
  /** The CORS headers of a response to a request from `origin`. */
  corsHeaders(origin: string | null | undefined): Record<string, string>;
}

export interface OriginPolicyOptions {
  /**
   * Origins admitted (`scheme://host[:port]`, or `*` for any). Default: any origin when the
   * server has a secret; only loopback origins (localhost, 127.0.0.0/8, [::1]) when not.
   */
  readonly allowOrigins?: readonly string[] | undefined;
  readonly hasSecret: boolean;
}

const CORS_BASE = {
  "access-control-allow-methods": "GET, HEAD, POST, OPTIONS",
  "access-control-allow-headers": "authorization, content-type",
  "access-control-max-age": "86400",
  vary: "origin",
};

export function createOriginPolicy(options: OriginPolicyOptions): OriginPolicy {
  const listed = options.allowOrigins?.map(normalizeOrigin);
  const any = listed ? listed.includes("*") : options.hasSecret;
  const allowed = new Set(listed);
  const allowsPage = (origin: string): boolean => {
    if (any) return true;
    let normal: string;
    try {
      normal = normalizeOrigin(origin);
    } catch {
      return false; // "null" (a sandboxed frame, a file: page) and anything unparsable
    }
    return listed ? allowed.has(normal) : isLoopbackOrigin(normal);
  };
  const allows = (origin: string | null | undefined) =>
    origin === null || origin === undefined || allowsPage(origin);
  return {
    allows,
    corsHeaders(origin) {
      if (origin === null || origin === undefined) return { ...CORS_BASE };
      if (!allowsPage(origin)) return { vary: "origin" };
      return {
        ...CORS_BASE,
        "access-control-allow-origin": any ? "*" : origin,
      };
    },
  };
}

/** `scheme://host[:port]` in its canonical form (lowercase host, default port dropped). */
export function normalizeOrigin(text: string): string {
  if (text === "*") return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError(
      `origin ${JSON.stringify(text)} is not a url`,
    );
  }
  if (
    (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.username !== "" ||
    url.password !== "" ||
    (url.pathname !== "/" && url.pathname !== "") ||
    url.search !== "" ||
    url.hash !== ""
  )
    throw new InvalidArgumentError(
      `origin ${JSON.stringify(text)} must be http(s)://host[:port], nothing more`,
    );
  return url.origin;
}

function isLoopbackOrigin(origin: string): boolean {
  const host = new URL(origin).hostname.replace(/^\[|\]$/g, "");
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    host === "::1" ||
    /^127(\.\d{1,3}){3}$/.test(host)
  );
}
