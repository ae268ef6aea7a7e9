// Names derived from a ledger name for places that limit length or characters: object keys
// in a bucket (at most 1024 bytes), a unique index in Postgres, a NOTIFY payload (< 8000
// bytes). A ledger name is any non-empty JS string, up to 512 code units on the wire; its
// percent-encoding can be 4.6k characters.
import { createHash } from "node:crypto";
import { cidString, type CID } from "../../blocks/cid.js";
import { encodeLedgerName } from "../../util/ledger-name.js";

/** Longest encoded name used whole. */
const MAX_WHOLE = 200;

/**
 * A ledger's key: encodeLedgerName(ledger) when that is at most 200 characters, else its
 * first 120 characters + "%~" + 32 hex digits of its sha-256. "%~" never occurs in an encoded
 * name, so the two forms cannot collide; ASCII only, no "/", no space, no newline.
 */
export function ledgerKey(ledger: string): string {
  const encoded = encodeLedgerName(ledger);
  if (encoded.length <= MAX_WHOLE) return encoded;
  const hash = createHash("sha256").update(encoded, "latin1").digest("hex");
  return `${encoded.slice(0, 120)}%~${hash.slice(0, 32)}`;
}

/** The object key of a commit: `<prefix>/<ledger key>/<cid>` (no leading "/" when no prefix). */
export function blobKey(prefix: string, ledger: string, cid: CID): string {
  const name = `${ledgerKey(ledger)}/${cidString(cid)}`;
  return prefix === "" ? name : `${prefix}/${name}`;
}
