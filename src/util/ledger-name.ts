// Ledger names are chosen by apps; these are the places a store (a gateway, a server backend)
// and the wire must be careful with them. The rule is one for every side (docs/protocol.md,
// "Ledger names"): 1–512 UTF-16 code units of well-formed Unicode (no lone surrogate, which
// UTF-8 cannot carry: two such names would collide on the wire), without U+FFFD (what a
// malformed name becomes once decoded, so a server refuses it rather than merge two ledgers),
// and not "*" (a token naming "*" opens every ledger).
import { InvalidArgumentError } from "./errors.js";

/** Longest ledger name, in UTF-16 code units. */
export const MAX_LEDGER_NAME = 512;

/** Why `name` is not a ledger name, or undefined when it is one. */
export function ledgerNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length === 0)
    return "a ledger name must be a non-empty string";
  if (name.length > MAX_LEDGER_NAME)
    return `a ledger name is at most ${MAX_LEDGER_NAME} UTF-16 code units`;
  if (!name.isWellFormed())
    return "a ledger name must be well-formed Unicode (it holds a lone surrogate)";
  if (name.includes("\uFFFD"))
    return "a ledger name may not hold U+FFFD, the replacement character";
  if (name === "*") return 'a ledger may not be named "*"';
  return undefined;
}

export function checkLedgerName(operation: string, ledger: string): void {
  const problem = ledgerNameProblem(ledger);
  if (problem !== undefined)
    throw new InvalidArgumentError(`${operation}: ${problem}`);
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
