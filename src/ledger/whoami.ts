// whoami: the public key this device signs with, for a storage URL (`kiln whoami`).
import type { Registry } from "../gateways/registry.js";
import { InvalidUrlError } from "../util/errors.js";
import { encodeWriter } from "../trust/signing.js";
import { openWriter } from "./open-writer.js";
import type { Platform } from "./platform.js";

/** Options of whoami(): which storage's writer key. */
export interface WhoamiOptions {
  /** The local storage whose writer to name (default: the platform's, file://./.kiln on Node). */
  storage?: string;
  registry?: Registry;
}

/**
 * The writer public key (unpadded base64url) of the storage: what another member passes to
 * `ledger.invite()`. Makes the key pair if the storage has none yet.
 */
export async function whoamiOn(
  platform: Platform,
  options: WhoamiOptions = {},
): Promise<string> {
  const url = options.storage ?? platform.defaultStorage();
  const registry = options.registry ?? platform.createRegistry();
  const gateway = await registry.open(url);
  try {
    if (!gateway.local)
      throw new InvalidUrlError(url, "this gateway is not local storage");
    const writer = await openWriter(
      gateway.local,
      platform.signing,
      platform.crypto,
    );
    return encodeWriter(writer.publicKey);
  } finally {
    await gateway.close();
  }
}
