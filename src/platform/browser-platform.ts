// Browsers' platform: WebCrypto (+ @noble/hashes for the synchronous hashes), fflate, and a
// registry of memory://, indexeddb:// (default storage indexeddb://kiln) and SyncServers
// over the global WebSocket.
import { createWebCrypto } from "../blocks/web-crypto.js";
import { webCompression } from "../blocks/web-compression.js";
import type { GatewayFactory } from "../gateways/gateway.js";
import { indexedDbGateway } from "../gateways/indexeddb-gateway.js";
import { memoryGateway } from "../gateways/memory-gateway.js";
import { createRegistry } from "../gateways/registry.js";
import type { DocFields } from "../ledger/doc.js";
import type { Ledger } from "../ledger/ledger.js";
import { openLedgerOn } from "../ledger/open-ledger.js";
import type { OpenLedgerOptions } from "../ledger/open-ledger.js";
import type { Platform } from "../ledger/platform.js";
import { whoamiOn } from "../ledger/whoami.js";
import type { WhoamiOptions } from "../ledger/whoami.js";
import { createWebSigning } from "../trust/web-signing.js";
import type { SocketClass } from "../sync/socket.js";
import { createSyncServerRemote } from "../sync/sync-server-remote.js";
import { createBrowserSocket } from "./browser-socket.js";
import { createWebTabLink } from "./web-tab-link.js";

/** One IndexedDB database holds many ledgers. */
export const DEFAULT_BROWSER_STORAGE = "indexeddb://kiln";

/** The gateways a browser ledger gets when openLedger is given no registry. */
export function browserGateways(): GatewayFactory<unknown>[] {
  return [
    memoryGateway,
    indexedDbGateway,
    createSyncServerRemote(() =>
      Promise.resolve(
        createBrowserSocket(
          (globalThis as unknown as { WebSocket: SocketClass }).WebSocket,
          typeof addEventListener === "function" ? globalThis : undefined,
        ),
      ),
    ),
  ] as GatewayFactory<unknown>[];
}

/**
 * The page was hidden (another tab, minimised), while it still runs. Not `pagehide`: a
 * checkpoint is asynchronous work (WebCrypto, IndexedDB) that a page being unloaded (a
 * reload) never finishes, so there the lower checkpointEvery bounds the replay instead.
 */
function onHidden(listener: () => void): () => void {
  const doc = (globalThis as { document?: Document }).document;
  if (!doc) return () => undefined;
  const onChange = () => {
    if (doc.visibilityState === "hidden") listener();
  };
  doc.addEventListener("visibilitychange", onChange);
  return () => doc.removeEventListener("visibilitychange", onChange);
}

let platform: Platform | undefined;

/** Made on first use: importing the browser entry does no work and touches no global. */
export function browserPlatform(): Platform {
  platform ??= {
    crypto: createWebCrypto(),
    compression: webCompression,
    signing: createWebSigning(),
    createRegistry: () => createRegistry(browserGateways()),
    defaultStorage: () => DEFAULT_BROWSER_STORAGE,
    // A reload replays at most this many ops past the last checkpoint (Node: 20,000); the
    // checkpoint rule keeps its cost O(1) per write (checkpointer.ts).
    checkpointEvery: 1_000,
    onHidden,
    // Only indexeddb:// is shared by the tabs of an origin (memory:// is one page's own).
    tabLink: (storage, ledger, remoteId) =>
      storage.startsWith("indexeddb:")
        ? createWebTabLink(`${storage} ${ledger} ${remoteId}`)
        : undefined,
  };
  return platform;
}

/** Opens (or creates) the ledger `name`; storage defaults to indexeddb://kiln. */
export function openLedger<T extends object = DocFields>(
  name: string,
  options?: OpenLedgerOptions<T>,
): Promise<Ledger<T>> {
  return openLedgerOn<T>(browserPlatform(), name, options);
}

/**
 * The writer public key of a storage (what another member passes to `ledger.invite()`);
 * makes the key pair if the storage has none yet.
 */
export function whoami(options?: WhoamiOptions): Promise<string> {
  return whoamiOn(browserPlatform(), options);
}
