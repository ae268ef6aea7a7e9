// A content key sealed for one writer (docs/security.md, "Invitations and key rotation"):
// what an invitation hands a new member, and what a removal's record carries for each
// remaining member. The writer's Ed25519 public key is converted to its X25519 form (the
// RFC 7748 birational map), an ephemeral X25519 key agrees a secret with it, HKDF-SHA256
// derives a one-time key-encryption key, and AES-256-GCM seals the content key:
//
//   box = ephemeral public key (32) ‖ AES-256-GCM(kek, iv = 0¹², key (32), aad = context) (48)
//   kek = HKDF-SHA256(ikm = X25519(ephemeral, recipient), salt = ephemeral ‖ recipient (Ed25519),
//                     info = "kiln key box v1")
//
// The IV may be fixed: each kek seals exactly one message. `context` binds the box to where
// it is used (the ledger's `create` record, the key's id). @noble/curves does the curve work
// on every platform (a few boxes per membership change; see docs/security.md for the cost).
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8 } from "../util/bytes.js";
import { KeyError } from "../util/errors.js";

/** AES-256-GCM as the platform offers it (src/blocks' CryptoProvider has this shape). */
export interface Aead {
  encrypt(
    key: Uint8Array,
    iv: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array>;
  decrypt(
    key: Uint8Array,
    iv: Uint8Array,
    ciphertext: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array>;
}

export const KEY_BOX_BYTES = 80;
const INFO = utf8("kiln key box v1");
const IV = new Uint8Array(12);

/** Seals `key` (32 bytes) for the writer `recipient` (an Ed25519 public key). */
export async function sealKeyBox(
  aead: Aead,
  recipient: Uint8Array,
  key: Uint8Array,
  context: Uint8Array,
): Promise<Uint8Array> {
  const ephemeral = x25519.utils.randomSecretKey();
  const ephemeralPublic = x25519.getPublicKey(ephemeral);
  const shared = x25519.getSharedSecret(
    ephemeral,
    ed25519.utils.toMontgomery(recipient),
  );
  const kek = kekOf(shared, ephemeralPublic, recipient);
  const sealed = await aead.encrypt(kek, IV, key, context);
  const box = new Uint8Array(32 + sealed.length);
  box.set(ephemeralPublic, 0);
  box.set(sealed, 32);
  return box;
}

/**
 * Opens a box sealed for the writer whose Ed25519 private key seed is `seed`; KeyError when
 * it was not sealed for this writer, or not in this `context`.
 */
export async function openKeyBox(
  aead: Aead,
  seed: Uint8Array,
  box: Uint8Array,
  context: Uint8Array,
): Promise<Uint8Array> {
  if (box.length !== KEY_BOX_BYTES)
    throw new KeyError("invalid-key", "open key box: it is not 80 bytes");
  const ephemeralPublic = box.subarray(0, 32);
  const shared = x25519.getSharedSecret(
    ed25519.utils.toMontgomerySecret(seed),
    ephemeralPublic,
  );
  const kek = kekOf(shared, ephemeralPublic, ed25519.getPublicKey(seed));
  try {
    return await aead.decrypt(kek, IV, box.subarray(32), context);
  } catch (error) {
    throw new KeyError(
      "invalid-key",
      "open key box: it was not sealed for this writer, or for another ledger",
      { cause: error },
    );
  }
}

/** A content key's id (envelope `k`): the first 8 bytes of HMAC-SHA256(key, "kiln key id"). */
export function keyIdOf(key: Uint8Array): Uint8Array {
  return hmac(sha256, key, utf8("kiln key id")).subarray(0, 8);
}

function kekOf(
  shared: Uint8Array,
  ephemeralPublic: Uint8Array,
  recipient: Uint8Array,
): Uint8Array {
  const salt = new Uint8Array(64);
  salt.set(ephemeralPublic, 0);
  salt.set(recipient, 32);
  return hkdf(sha256, shared, salt, INFO, 32);
}
