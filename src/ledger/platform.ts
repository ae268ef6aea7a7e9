// What a ledger needs of the platform it runs on. The core above this seam is the same code
// in Node and in browsers; each entry point (src/index.ts, src/index.browser.ts) binds
// openLedger to its platform (src/platform/).
import type { Compression } from "../blocks/compression.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { Registry } from "../gateways/registry.js";
import type { SigningProvider } from "../trust/signing.js";
import type { TabLink } from "../sync/tab-link.js";

/** What a ledger needs of the platform it runs on; each entry point binds its own (nodePlatform, browserPlatform()). */
export interface Platform {
  readonly crypto: CryptoProvider;
  readonly compression: Compression;
  /** Ed25519 for writer keys (node:crypto, or WebCrypto in browsers). */
  readonly signing: SigningProvider;
  /** The gateways for storage and connect() when openLedger is given no registry. */
  createRegistry(): Registry;
  /** Ops between automatic checkpoints when openLedger is given none (default 20,000). */
  readonly checkpointEvery?: number;
  /**
   * Calls `listener` when the page is hidden or left (browsers): the ledger checkpoints
   * then, so a reload loads a checkpoint instead of replaying. Returns the unsubscribe.
   */
  onHidden?(listener: () => void): () => void;
  /** The storage URL when openLedger is given none. */
  defaultStorage(): string;
  /**
   * Where pages of an origin share a storage (indexeddb:// in browsers): the link through
   * which one tab leads each remote of a ledger on it. Undefined where nothing is shared.
   */
  tabLink?(
    storage: string,
    ledger: string,
    remoteId: string,
  ): TabLink | undefined;
}
