// The small interface every hot cryptographic path goes through. Node uses node:crypto
// (node-crypto.ts, synchronous and 10-20x faster than WebCrypto for small inputs); a browser
// build supplies the same interface over WebCrypto.

/**
 * The cryptography a ledger needs: AES-256-GCM, SHA-256, HMAC-SHA256 and random bytes
 * (node:crypto on Node, WebCrypto with @noble/hashes in browsers), byte-identical everywhere.
 */
export interface CryptoProvider {
  /** SHA-256 of bytes, synchronously. */
  sha256(bytes: Uint8Array): Uint8Array;
  /** HMAC-SHA256 of the concatenated parts under `key`, synchronously. */
  hmacSha256(key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array;
  /** AES-256-GCM; returns ciphertext followed by the 16-byte tag. */
  encrypt(
    key: Uint8Array,
    iv: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array>;
  /** Rejects when the tag does not verify. */
  decrypt(
    key: Uint8Array,
    iv: Uint8Array,
    ciphertext: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array>;
  /** `length` cryptographically random bytes. */
  randomBytes(length: number): Uint8Array;
}
