// Ed25519 over WebCrypto, for browsers. Chosen over a JavaScript implementation
// (@noble/curves): native code, no dependency, and supported unflagged by Chromium ≥ 137,
// Firefox ≥ 129 and Safari ≥ 17 (docs/security.md, "Signatures in browsers", has the
// measurements). WebCrypto's calls are asynchronous, like this seam.
import { fromBase64url } from "../util/bytes.js";
import { InvalidArgumentError } from "../util/errors.js";
import {
  PUBLIC_KEY_BYTES,
  SEED_BYTES,
  SIGNATURE_BYTES,
  type Signer,
  type SigningProvider,
} from "./signing.js";

const PKCS8_PREFIX = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
);
const ED25519 = { name: "Ed25519" } as const;
const MAX_CACHED_KEYS = 1024;

export function createWebSigning(
  subtle: SubtleCrypto = globalThis.crypto.subtle,
): SigningProvider {
  const publicKeys = new Map<string, Promise<CryptoKey>>();
  const publicKey = (raw: Uint8Array): Promise<CryptoKey> => {
    const id = String.fromCharCode(...raw);
    let key = publicKeys.get(id);
    if (!key) {
      key = subtle.importKey(
        "raw",
        raw as Uint8Array<ArrayBuffer>,
        ED25519,
        false,
        ["verify"],
      );
      if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.clear();
      publicKeys.set(id, key);
    }
    return key;
  };
  return {
    async importSigner(seed) {
      if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES)
        throw new InvalidArgumentError(
          `import signer: an Ed25519 seed is ${SEED_BYTES} bytes`,
        );
      const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + SEED_BYTES);
      pkcs8.set(PKCS8_PREFIX, 0);
      pkcs8.set(seed, PKCS8_PREFIX.length);
      // Imported extractable once, to read the public key from its JWK, then again without:
      // the key object a signer keeps cannot be exported.
      const extractable = await subtle.importKey(
        "pkcs8",
        pkcs8,
        ED25519,
        true,
        ["sign"],
      );
      const jwk = await subtle.exportKey("jwk", extractable);
      const raw = jwk.x === undefined ? undefined : fromBase64url(jwk.x);
      if (raw?.length !== PUBLIC_KEY_BYTES)
        throw new InvalidArgumentError(
          "import signer: the platform gave no Ed25519 public key",
        );
      const key = await subtle.importKey("pkcs8", pkcs8, ED25519, false, [
        "sign",
      ]);
      const signer: Signer = {
        publicKey: raw,
        sign: async (message) =>
          new Uint8Array(
            await subtle.sign(ED25519, key, message as Uint8Array<ArrayBuffer>),
          ),
      };
      return signer;
    },
    async verify(raw, message, signature) {
      if (
        raw.length !== PUBLIC_KEY_BYTES ||
        signature.length !== SIGNATURE_BYTES
      )
        return false;
      try {
        return await subtle.verify(
          ED25519,
          await publicKey(raw),
          signature as Uint8Array<ArrayBuffer>,
          message as Uint8Array<ArrayBuffer>,
        );
      } catch {
        return false;
      }
    },
  };
}
