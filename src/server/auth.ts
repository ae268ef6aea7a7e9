// Bearer tokens of the SyncServer: `kiln1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`,
// signed with the server's secret. A token names the ledgers it opens ("*" for all) and
// whether it may write. Tokens are checked with node:crypto directly: the server holds no
// code of src/blocks' crypto (it cannot decrypt what it stores).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { ProtocolError } from "../sync/protocol/index.js";
import { fromBase64url, fromUtf8, toBase64url, utf8 } from "../util/bytes.js";
import { InvalidArgumentError } from "../util/errors.js";
import { ledgerNameProblem } from "../util/ledger-name.js";

const PREFIX = "kiln1";

/** Shortest secret accepted: a short HMAC key can be guessed offline from any token. */
export const MIN_SECRET_LENGTH = 16;

/** The claims inside a token. Times are unix seconds. */
export interface TokenClaims {
  /** Ledger names this token opens; "*" opens every ledger. */
  l: string[];
  /** Write right (push); read only (hello, pull) otherwise. */
  w: boolean;
  /** Expiry; absent for a token that does not expire. */
  exp?: number;
  /** Issue time. */
  iat: number;
  /** The token's id: what `kiln token revoke` names. Absent in tokens made before ids. */
  jti?: string;
}

/** What a verified token allows. */
export interface Grant {
  readonly ledgers: readonly string[];
  readonly write: boolean;
  /** Unix seconds; absent when the grant does not expire. */
  readonly expiresAt?: number;
  /** The token's id (jti), when it has one: a revoked id voids the grant. */
  readonly id?: string;
}

/** The grant of a server without a secret: anyone may read and write every ledger. */
export const OPEN_GRANT: Grant = { ledgers: ["*"], write: true };

/** What a token grants: ledgers (or `*`), write or read only, and an expiry. */
export interface TokenOptions {
  ledgers: readonly string[];
  write?: boolean;
  /** Seconds from `now` until the token expires; no expiry when absent. */
  expiresIn?: number;
  /** Issue time in milliseconds (default Date.now()). */
  now?: number;
}

export function checkSecret(secret: string): void {
  if (secret.length < MIN_SECRET_LENGTH)
    throw new InvalidArgumentError(
      `token secret: must be at least ${MIN_SECRET_LENGTH} characters`,
    );
}

/** Signs a token for `ledgers` with the server's secret. */
export function signToken(secret: string, options: TokenOptions): string {
  checkSecret(secret);
  if (options.ledgers.length === 0)
    throw new InvalidArgumentError("sign token: name at least one ledger");
  for (const ledger of options.ledgers)
    if (!isTokenLedger(ledger))
      throw new InvalidArgumentError(
        `sign token: ${ledgerNameProblem(ledger) ?? "not a ledger name"} (use "*" alone for every ledger)`,
      );
  if (
    options.expiresIn !== undefined &&
    !(Number.isFinite(options.expiresIn) && options.expiresIn > 0)
  )
    throw new InvalidArgumentError(
      "sign token: expiresIn must be a positive number of seconds",
    );
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  const claims: TokenClaims = {
    l: [...options.ledgers],
    w: options.write ?? false,
    ...(options.expiresIn !== undefined
      ? { exp: iat + Math.ceil(options.expiresIn) }
      : {}),
    iat,
    jti: toBase64url(randomBytes(16)),
  };
  const body = `${PREFIX}.${toBase64url(utf8(JSON.stringify(claims)))}`;
  return `${body}.${toBase64url(mac(secret, body))}`;
}

/**
 * Checks a token's signature, shape and expiry at `now` (milliseconds); throws ProtocolError
 * unauthorized otherwise. The message never repeats the token.
 */
export function verifyToken(secret: string, token: string, now: number): Grant {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== PREFIX)
    throw unauthorized("the token is malformed");
  const [, claimsPart, sigPart] = parts as [string, string, string];
  const sig = canonicalBase64url(sigPart);
  const expected = mac(secret, `${PREFIX}.${claimsPart}`);
  if (
    sig === undefined ||
    sig.length !== expected.length ||
    !timingSafeEqual(sig, expected)
  )
    throw unauthorized("the token's signature does not verify");
  const claims = parseClaims(claimsPart);
  if (claims === undefined) throw unauthorized("the token is malformed");
  if (claims.exp !== undefined && now / 1000 >= claims.exp)
    throw unauthorized("the token has expired");
  return {
    ledgers: claims.l,
    write: claims.w,
    ...(claims.exp !== undefined ? { expiresAt: claims.exp } : {}),
    ...(claims.jti !== undefined ? { id: claims.jti } : {}),
  };
}

/**
 * The id (jti) of a token, read without checking its signature (to revoke it, or to print
 * it); undefined when the token is malformed or has none.
 */
export function tokenId(token: string): string | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== PREFIX) return undefined;
  return parseClaims(parts[1]!)?.jti;
}

/**
 * What a session or a request may do: the union of the grants of its tokens (a WebSocket
 * hello may carry several, one socket serving many ledgers).
 */
export type Rights = readonly Grant[];

/** The rights of a server without a secret. */
export const OPEN_RIGHTS: Rights = [OPEN_GRANT];

function opens(grant: Grant, ledger: string): boolean {
  return grant.ledgers.includes("*") || grant.ledgers.includes(ledger);
}

function isLive(grant: Grant, now: number): boolean {
  return grant.expiresAt === undefined || now / 1000 < grant.expiresAt;
}

/**
 * Throws ProtocolError unless some unexpired grant of `rights` opens `ledger` for `access` at
 * `now` (ms): `forbidden` when none names the ledger (or none that does may write), and
 * `unauthorized` when only expired ones would have allowed it. Checked on every request and
 * before every live delivery.
 */
export function authorize(
  rights: Rights,
  ledger: string,
  access: "read" | "write",
  now: number,
): void {
  let expired = false;
  let readOnly = false;
  for (const grant of rights) {
    if (!opens(grant, ledger)) continue;
    if (access === "write" && !grant.write) {
      readOnly ||= isLive(grant, now);
      continue;
    }
    if (isLive(grant, now)) return;
    expired = true;
  }
  const name = JSON.stringify(ledger.slice(0, 64));
  if (expired && !readOnly)
    throw unauthorized(`the token for ledger ${name} has expired`);
  if (readOnly)
    throw new ProtocolError(
      "forbidden",
      `the token may read but not write ledger ${name}`,
    );
  throw new ProtocolError(
    "forbidden",
    `no token of this session opens ledger ${name}`,
  );
}

/** The token of an `Authorization: Bearer <token>` header, if any. */
export function bearerToken(header: string | null): string | undefined {
  const match = header === null ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Parses a duration like `90s`, `15m`, `12h`, `30d` or `2w` into seconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)([smhdw])$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[
    match[2] as "s" | "m" | "h" | "d" | "w"
  ];
  const seconds = Number(match[1]) * unit;
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : undefined;
}

function mac(secret: string, body: string): Uint8Array {
  return createHmac("sha256", secret).update(body).digest();
}

function unauthorized(detail: string): ProtocolError {
  return new ProtocolError("unauthorized", detail);
}

/** A ledger a token may name: "*" (every ledger) or a ledger name. */
function isTokenLedger(value: unknown): value is string {
  return value === "*" || ledgerNameProblem(value) === undefined;
}

/**
 * The bytes of base64url text, only when it is the one canonical spelling of them: the unused
 * low bits of the last character must be zero, so no two strings pass for one token.
 */
function canonicalBase64url(text: string): Uint8Array | undefined {
  const bytes = fromBase64url(text);
  return bytes !== undefined && toBase64url(bytes) === text ? bytes : undefined;
}

function parseClaims(part: string): TokenClaims | undefined {
  const bytes = canonicalBase64url(part);
  if (bytes === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(bytes));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const c = value as Record<string, unknown>;
  const isTime = (t: unknown) => typeof t === "number" && Number.isFinite(t);
  if (
    !Array.isArray(c.l) ||
    c.l.length === 0 ||
    !c.l.every(isTokenLedger) ||
    typeof c.w !== "boolean" ||
    !isTime(c.iat) ||
    (c.exp !== undefined && !isTime(c.exp)) ||
    (c.jti !== undefined &&
      !(typeof c.jti === "string" && /^[A-Za-z0-9_-]{1,128}$/.test(c.jti)))
  )
    return undefined;
  return c as unknown as TokenClaims;
}
