// A SyncServer ledger over WebSocket: a channel (ws-channel.ts) on the one socket the
// process shares with every other ledger syncing with that server (ws-pool.ts). The
// WebSocket class is the platform's (socket.ts).
import type { Remote } from "./remote.js";
import type { ServerEndpoint } from "./server-endpoint.js";
import type { SocketLoader } from "./socket.js";
import { sharedWsPool } from "./ws-pool.js";
import type { WsPool } from "./ws-pool.js";
import type { WsOptions } from "./ws-socket.js";

export type { WsOptions };
export { DEFAULT_WS_OPTIONS } from "./ws-socket.js";

export function openWsRemote(
  endpoint: ServerEndpoint,
  loadSocket: SocketLoader,
  options?: WsOptions,
  signal?: AbortSignal,
  pool: WsPool = sharedWsPool(),
): Promise<Remote> {
  return pool.open(endpoint, loadSocket, options, signal);
}
