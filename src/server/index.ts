// kiln/server: the self-hostable SyncServer, its bearer tokens and its storage seam.
export {
  createSyncServer,
  DEFAULT_HEARTBEAT,
  DEFAULT_MAX_COMMITS,
  DEFAULT_MAX_MESSAGE,
  DEFAULT_POLL_CAP,
} from "./sync-server.js";
export type {
  Listener,
  ListenOptions,
  SyncServer,
  SyncServerOptions,
  SyncServerStats,
  Transports,
  WebSocketRequest,
} from "./sync-server.js";
export type { ServerEvent, ServerLog } from "./server-event.js";
export type { TransportName } from "./ledger-service.js";
export {
  MIN_SECRET_LENGTH,
  parseDuration,
  signToken,
  tokenId,
  verifyToken,
} from "./auth.js";
export type { Grant, TokenClaims, TokenOptions } from "./auth.js";
export { createMemoryBackend } from "./backends/memory-backend.js";
export type {
  Backend,
  CommitMeta,
  LedgerChange,
  StoredCommit,
} from "./backend.js";
