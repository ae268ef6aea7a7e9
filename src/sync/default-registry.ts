// The gateways Kiln registers when the app passes no registry (Node): memory:// for storage
// and as a remote, file:// as the local store (openLedger) and as a shared folder (connect),
// and ws(s):// / http(s):// SyncServers as remotes.
import { fileGateway } from "../gateways/file-gateway.js";
import { folderGateway } from "../gateways/folder-gateway.js";
import type { GatewayFactory } from "../gateways/gateway.js";
import { memoryGateway } from "../gateways/memory-gateway.js";
import { createRegistry } from "../gateways/registry.js";
import type { Registry } from "../gateways/registry.js";
import { syncServerRemote } from "./sync-server-remote.js";

export const DEFAULT_GATEWAYS: readonly GatewayFactory<unknown>[] = [
  memoryGateway,
  fileGateway,
  folderGateway,
  syncServerRemote,
];

export function createDefaultRegistry(): Registry {
  return createRegistry(DEFAULT_GATEWAYS);
}
