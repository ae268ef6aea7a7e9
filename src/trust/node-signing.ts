// Ed25519 over node:crypto. Verifying uses the callback form, which runs in libuv's thread
// pool: a batch of verifications during a catch-up proceeds on every core and the event
// loop stays free. Importing a public key costs about as much as a verification
// (~170 µs), so imported keys are cached; a ledger has few writers.
import type { KeyObject } from "node:crypto";
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { InvalidArgumentError } from "../util/errors.js";
import {
  PUBLIC_KEY_BYTES,
  SEED_BYTES,
  SIGNATURE_BYTES,
  type Signer,
  type SigningProvider,
} from "./signing.js";

// DER prefixes of a PKCS#8 Ed25519 private key and an SPKI Ed25519 public key (RFC 8410):
// the raw 32 bytes follow them.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const MAX_CACHED_KEYS = 1024;

export function createNodeSigning(): SigningProvider {
  const publicKeys = new Map<string, KeyObject>();
  const publicKey = (raw: Uint8Array): KeyObject => {
    const id = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString(
      "latin1",
    );
    let key = publicKeys.get(id);
    if (!key) {
      key = createPublicKey({
        key: Buffer.concat([SPKI_PREFIX, raw]),
        format: "der",
        type: "spki",
      });
      if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.clear();
      publicKeys.set(id, key);
    }
    return key;
  };
  return {
    importSigner(seed) {
      if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES)
        return Promise.reject(
          new InvalidArgumentError(
            `import signer: an Ed25519 seed is ${SEED_BYTES} bytes`,
          ),
        );
      const key = createPrivateKey({
        key: Buffer.concat([PKCS8_PREFIX, seed]),
        format: "der",
        type: "pkcs8",
      });
      const spki = createPublicKey(key).export({ format: "der", type: "spki" });
      const raw = new Uint8Array(spki.subarray(SPKI_PREFIX.length));
      publicKey(raw);
      const signer: Signer = {
        publicKey: raw,
        // Synchronous: a write signs one commit and waits for it, and the thread pool's
        // hop would cost more than the ~45 µs signature (docs/benchmarks.md).
        sign: (message) => {
          try {
            return Promise.resolve(new Uint8Array(sign(null, message, key)));
          } catch (error) {
            return Promise.reject(
              error instanceof Error ? error : new Error(String(error)),
            );
          }
        },
      };
      return Promise.resolve(signer);
    },
    verify(raw, message, signature) {
      if (
        raw.length !== PUBLIC_KEY_BYTES ||
        signature.length !== SIGNATURE_BYTES
      )
        return Promise.resolve(false);
      let key: KeyObject;
      try {
        key = publicKey(raw);
      } catch {
        // Not a point on the curve: no signature verifies under it.
        return Promise.resolve(false);
      }
      return new Promise((resolve) =>
        verify(null, message, key, signature, (error, ok) =>
          resolve(!error && ok),
        ),
      );
    },
  };
}

/** The process's Node signing provider. */
export const nodeSigning: SigningProvider = createNodeSigning();
