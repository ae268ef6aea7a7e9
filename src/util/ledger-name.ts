// Ledger names are arbitrary non-empty strings chosen by apps; these are the two places a
// store (a gateway, a server backend) must be careful with them.
import { InvalidArgumentError } from "./errors.js";

export function checkLedgerName(operation: string, ledger: string): void {
  if (typeof ledger !== "string" || ledger.length === 0)
    throw new InvalidArgumentError(
      `${operation}: ledger name must be a non-empty string`,
    );
}

/**
 * A ledger name as one safe path segment: percent-encoded (so "/" and "\" cannot escape the
 * folder), with "*" encoded for Windows and a leading "." encoded so "." and ".." name
 * ordinary folders, not the current or parent one. Distinct names give distinct segments,
 * except on case-insensitive file systems, where names differing only in case collide.
 */
export function encodeLedgerName(ledger: string): string {
  // encodeURIComponent throws on a lone surrogate, which a JS string may hold; "%u" + hex
  // cannot be confused with a UTF-8 escape, whose "%" is always followed by two hex digits.
  let out = "";
  let from = 0;
  for (const m of ledger.matchAll(LONE_SURROGATE)) {
    out +=
      encodeURIComponent(ledger.slice(from, m.index)) +
      `%u${m[0].charCodeAt(0).toString(16).toUpperCase()}`;
    from = m.index + 1;
  }
  out += encodeURIComponent(ledger.slice(from));
  return out.replace(/\*/g, "%2A").replace(/^\./, "%2E");
}

const LONE_SURROGATE =
  /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
