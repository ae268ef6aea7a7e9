// Writers sign: the seam every signature goes through. A writer is a device's Ed25519 key
// pair; its public key names it in commits and membership records. Node implements the seam
// with node:crypto (node-signing.ts), browsers with WebCrypto's Ed25519 (web-signing.ts).
// Both are asynchronous so that verification can run off the event loop: a catch-up checks
// thousands of signatures, ~150 µs each.
import { fromBase64url, toBase64url } from "../util/bytes.js";
import { InvalidArgumentError } from "../util/errors.js";

/** Bytes of an Ed25519 public key, of a private key seed, of a signature. */
export const PUBLIC_KEY_BYTES = 32;
export const SEED_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** A private key in hand: signs messages as the writer `publicKey`. */
export interface Signer {
  readonly publicKey: Uint8Array;
  /** Signs a message with the writer's Ed25519 key. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** Ed25519 on the platform (node:crypto, or WebCrypto in browsers). */
export interface SigningProvider {
  /** The signer of a 32-byte Ed25519 private key seed (RFC 8032). */
  importSigner(seed: Uint8Array): Promise<Signer>;
  /** True when `signature` is `publicKey`'s Ed25519 signature of `message`; never throws for bad input. */
  verify(
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
  ): Promise<boolean>;
}

/** A writer's public key as text: unpadded base64url of its 32 bytes (43 characters). */
export function encodeWriter(publicKey: Uint8Array): string {
  return toBase64url(publicKey);
}

/** Parses a writer's public key given as text; InvalidArgumentError otherwise. */
export function decodeWriter(text: string, operation = "writer"): Uint8Array {
  const bytes = typeof text === "string" ? fromBase64url(text) : undefined;
  if (
    bytes === undefined ||
    bytes.length !== PUBLIC_KEY_BYTES ||
    toBase64url(bytes) !== text
  )
    throw new InvalidArgumentError(
      `${operation}: a writer is a ${PUBLIC_KEY_BYTES}-byte public key as unpadded base64url`,
    );
  return bytes;
}
