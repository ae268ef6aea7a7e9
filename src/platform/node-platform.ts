// Node's platform: node:crypto, node:zlib, and the default registry (file:// storage, folders
// and SyncServers over the `ws` package as remotes).
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { nodeCompression } from "../blocks/node-compression.js";
import { nodeCrypto } from "../blocks/node-crypto.js";
import type { DocFields } from "../ledger/doc.js";
import type { Ledger } from "../ledger/ledger.js";
import { DEFAULT_STORAGE_DIR, openLedgerOn } from "../ledger/open-ledger.js";
import type { OpenLedgerOptions } from "../ledger/open-ledger.js";
import type { Platform } from "../ledger/platform.js";
import { importLedgerOn } from "../ledger/import-ledger.js";
import type { ImportOptions, ImportResult } from "../ledger/import-ledger.js";
import { whoamiOn } from "../ledger/whoami.js";
import type { WhoamiOptions } from "../ledger/whoami.js";
import { nodeSigning } from "../trust/node-signing.js";
import { createDefaultRegistry } from "../sync/default-registry.js";

/** Node's platform: node:crypto, node:zlib, file:// storage (default ./.kiln), the ws WebSocket. */
export const nodePlatform: Platform = {
  crypto: nodeCrypto,
  compression: nodeCompression,
  signing: nodeSigning,
  createRegistry: createDefaultRegistry,
  defaultStorage: () => pathToFileURL(resolve(DEFAULT_STORAGE_DIR)).href,
};

/** Opens (or creates) the ledger `name`; storage defaults to file://./.kiln. */
export function openLedger<T extends object = DocFields>(
  name: string,
  options?: OpenLedgerOptions<T>,
): Promise<Ledger<T>> {
  return openLedgerOn<T>(nodePlatform, name, options);
}

/**
 * The writer public key of a storage (what another member passes to `ledger.invite()`);
 * makes the key pair if the storage has none yet.
 */
export function whoami(options?: WhoamiOptions): Promise<string> {
  return whoamiOn(nodePlatform, options);
}

/**
 * Reads a ledger exported by exportLedger (CARv1 bytes) into a storage that holds nothing of
 * it; storage defaults to file://./.kiln (docs/format.md, "Portable ledgers").
 */
export function importLedger(
  name: string,
  source: AsyncIterable<Uint8Array>,
  options?: ImportOptions,
): Promise<ImportResult> {
  return importLedgerOn(nodePlatform, name, source, options);
}
