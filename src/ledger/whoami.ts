// whoami: the public key this device signs with, for a storage URL (`kiln whoami`).
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { nodeCrypto } from "../blocks/node-crypto.js";
import { fileGateway } from "../gateways/file-gateway.js";
import { memoryGateway } from "../gateways/memory-gateway.js";
import type { Registry } from "../gateways/registry.js";
import { createRegistry } from "../gateways/registry.js";
import { InvalidUrlError } from "../util/errors.js";
import { nodeSigning } from "../trust/node-signing.js";
import { encodeWriter } from "../trust/signing.js";
import { DEFAULT_STORAGE_DIR } from "./open-ledger.js";
import { openWriter } from "./open-writer.js";

export interface WhoamiOptions {
  /** The local storage whose writer to name (default file://./.kiln). */
  storage?: string;
  registry?: Registry;
}

/**
 * The writer public key (unpadded base64url) of the storage: what another member passes to
 * `ledger.invite()`. Makes the key pair if the storage has none yet.
 */
export async function whoami(options: WhoamiOptions = {}): Promise<string> {
  const url =
    options.storage ?? pathToFileURL(resolve(DEFAULT_STORAGE_DIR)).href;
  const registry =
    options.registry ?? createRegistry([memoryGateway, fileGateway]);
  const gateway = await registry.open(url);
  try {
    if (!gateway.local)
      throw new InvalidUrlError(url, "this gateway is not local storage");
    const writer = await openWriter(gateway.local, nodeSigning, nodeCrypto);
    return encodeWriter(writer.publicKey);
  } finally {
    await gateway.close();
  }
}
