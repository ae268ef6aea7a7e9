// The CryptoProvider of browsers. AES-256-GCM runs on WebCrypto (crypto.subtle), which is
// asynchronous like the seam. SHA-256 and HMAC-SHA256 are synchronous in the seam (CIDs and
// deterministic IVs are computed on hot paths that do not await), and crypto.subtle.digest
// is asynchronous only, so they use @noble/hashes: audited, dependency-free, and measured
// against crypto.subtle in docs/gateways.md ("Crypto in browsers").
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { CryptoProvider } from "./crypto.js";

// getRandomValues fills at most 65,536 bytes per call.
const MAX_RANDOM = 65_536;

/** AES-GCM with a 16-byte tag after the ciphertext, as node-crypto.ts writes it. */
function gcm(iv: Uint8Array, aad: Uint8Array): AesGcmParams {
  return {
    name: "AES-GCM",
    iv: iv as Uint8Array<ArrayBuffer>,
    additionalData: aad as Uint8Array<ArrayBuffer>,
    tagLength: 128,
  };
}

export function createWebCrypto(
  subtle: SubtleCrypto = globalThis.crypto.subtle,
): CryptoProvider {
  // A ledger uses one key for every commit: importing it once saves a WebCrypto call per
  // commit. Keyed by the key's bytes object; a new object with the same bytes imports again.
  const imported = new WeakMap<Uint8Array, Promise<CryptoKey>>();
  const aesKey = (key: Uint8Array): Promise<CryptoKey> => {
    let found = imported.get(key);
    if (!found) {
      found = subtle.importKey(
        "raw",
        key as Uint8Array<ArrayBuffer>,
        "AES-GCM",
        false,
        ["encrypt", "decrypt"],
      );
      imported.set(key, found);
    }
    return found;
  };
  return {
    sha256: (bytes) => sha256(bytes),
    hmacSha256(key, parts) {
      const h = hmac.create(sha256, key);
      for (const p of parts) h.update(p);
      return h.digest();
    },
    async encrypt(key, iv, plaintext, aad) {
      const out = await subtle.encrypt(
        gcm(iv, aad),
        await aesKey(key),
        plaintext as Uint8Array<ArrayBuffer>,
      );
      return new Uint8Array(out);
    },
    async decrypt(key, iv, ciphertext, aad) {
      const out = await subtle.decrypt(
        gcm(iv, aad),
        await aesKey(key),
        ciphertext as Uint8Array<ArrayBuffer>,
      );
      return new Uint8Array(out);
    },
    randomBytes(length) {
      const out = new Uint8Array(length);
      for (let at = 0; at < length; at += MAX_RANDOM)
        globalThis.crypto.getRandomValues(
          out.subarray(at, Math.min(length, at + MAX_RANDOM)),
        );
      return out;
    },
  };
}
