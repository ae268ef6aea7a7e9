// The gateways Kiln registers on Node when the app passes no registry: memory:// for storage
// and as a remote, file:// as the local store (openLedger) and as a shared folder (connect),
// and ws(s):// / http(s):// SyncServers as remotes. Node-only; browsers register theirs in
// platform/browser-platform.ts.
import { fileGateway } from "../gateways/file-gateway.js";
import { folderGateway } from "../gateways/folder-gateway.js";
import type { GatewayFactory } from "../gateways/gateway.js";
import { memoryGateway } from "../gateways/memory-gateway.js";
import { createRegistry } from "../gateways/registry.js";
import type { Registry } from "../gateways/registry.js";
import { loadNodeSocket } from "./node-socket.js";
import { createSyncServerRemote } from "./sync-server-remote.js";

/** ws(s):// and http(s):// SyncServers, over the `ws` package's WebSocket. */
export const syncServerRemote = createSyncServerRemote(loadNodeSocket);

/** Node's gateways: memory://, file://, and ws(s):// / http(s):// SyncServers. */
export const DEFAULT_GATEWAYS: readonly GatewayFactory<unknown>[] = [
  memoryGateway,
  fileGateway,
  folderGateway,
  syncServerRemote,
];

/** A registry of DEFAULT_GATEWAYS. */
export function createDefaultRegistry(): Registry {
  return createRegistry(DEFAULT_GATEWAYS);
}
