// The device's writer: one Ed25519 key pair per local storage, made on first use and kept by
// the storage (a 0600 file at the root of a file:// folder), used for every ledger there.
import type { CryptoProvider } from "../blocks/crypto.js";
import type { LocalStorage } from "../gateways/gateway.js";
import { fromBase64url, toBase64url } from "../util/bytes.js";
import { CorruptError } from "../util/errors.js";
import { SEED_BYTES } from "../trust/signing.js";
import type { Signer, SigningProvider } from "../trust/signing.js";

/** The writer kept by `local`, made (and kept) now if it has none. */
export async function openWriter(
  local: LocalStorage,
  signing: SigningProvider,
  crypto: CryptoProvider,
): Promise<Signer> {
  return signing.importSigner(await openWriterSeed(local, crypto));
}

/** The Ed25519 seed of the writer kept by `local` (made and kept now if it has none). */
export async function openWriterSeed(
  local: LocalStorage,
  crypto: CryptoProvider,
): Promise<Uint8Array> {
  const text =
    (await local.getWriterKey()) ??
    (await local.putWriterKey(toBase64url(crypto.randomBytes(SEED_BYTES))));
  const seed = fromBase64url(text);
  if (seed?.length !== SEED_BYTES || toBase64url(seed) !== text)
    throw new CorruptError(
      "writer key",
      `the stored writer key is not ${SEED_BYTES} bytes of base64url`,
    );
  return seed;
}
