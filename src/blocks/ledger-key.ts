// A ledger key: 32 random bytes, shared between clients as unpadded base64url.
import { KeyError } from "../util/errors.js";
import { fromBase64url, toBase64url } from "../util/bytes.js";
import type { CryptoProvider } from "./crypto.js";

export const KEY_BYTES = 32;

export function createLedgerKey(crypto: CryptoProvider): Uint8Array {
  return crypto.randomBytes(KEY_BYTES);
}

export function encodeLedgerKey(key: Uint8Array): string {
  return toBase64url(key);
}

/** Parses a key given by a user or read from a key file; KeyError("invalid-key") otherwise. */
export function decodeLedgerKey(text: unknown): Uint8Array {
  if (typeof text !== "string")
    throw new KeyError(
      "invalid-key",
      "open: the ledger key must be a base64url string",
    );
  const bytes = fromBase64url(text);
  if (!bytes || bytes.length !== KEY_BYTES || toBase64url(bytes) !== text)
    throw new KeyError(
      "invalid-key",
      `open: the ledger key must be ${KEY_BYTES} bytes as unpadded base64url`,
    );
  return bytes;
}
