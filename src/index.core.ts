// The public API both entries share (src/index.ts for Node, src/index.browser.ts for
// browsers): named re-exports only, none of them platform code.
export type { OpenLedgerOptions } from "./ledger/open-ledger.js";
export type { Platform } from "./ledger/platform.js";
export type { CryptoProvider } from "./blocks/crypto.js";
export type { Compression } from "./blocks/compression.js";
export { Ledger } from "./ledger/ledger.js";
export { LedgerAt } from "./ledger/ledger-at.js";
export type { DocVersion } from "./ledger/doc-history.js";
export { exportLedger } from "./ledger/export-ledger.js";
export { deleteServerLedger } from "./sync/delete-server-ledger.js";
export type { DeleteServerLedgerOptions } from "./sync/delete-server-ledger.js";
export type { ExportOptions } from "./ledger/export-ledger.js";
export type { ImportOptions, ImportResult } from "./ledger/import-ledger.js";
export type { OnProgress, Progress } from "./util/progress.js";
export type { WhoamiOptions } from "./ledger/whoami.js";
export { encodeWriter, decodeWriter } from "./trust/signing.js";
export type { Signer, SigningProvider } from "./trust/signing.js";
export { MapError } from "./ledger/query.js";
export type {
  MapFn,
  QueryOptions,
  QueryRow,
  IndexKey,
  Emit,
} from "./ledger/query.js";
export type {
  WriteResult,
  BulkResult,
  AllDocsOptions,
  ChangeRow,
  ChangesInfo,
  ChangesListener,
  ChangesResult,
  ErrorListener,
  MemberList,
} from "./ledger/ledger.js";
export type { Doc, DocFields, DocInput, DocValue } from "./ledger/doc.js";
export type { DocSchema } from "./ledger/schema-gate.js";
export { MAX_DOC_BYTES, MAX_ID_BYTES } from "./ledger/doc.js";
export {
  KilnError,
  NotFoundError,
  DecryptError,
  IntegrityError,
  CorruptError,
  InvalidUrlError,
  InvalidDocError,
  InvalidArgumentError,
  KeyError,
  ClosedError,
  SchemaError,
  IoError,
  SignatureError,
  MembershipError,
  FormatVersionError,
  ReadOnlyError,
  HistoryGoneError,
  QuotaError,
} from "./util/errors.js";
export type { KilnErrorCode } from "./util/errors.js";
export type {
  Gateway,
  GatewayFactory,
  GatewayRole,
  HeadSet,
  HeadUpdate,
  LocalStorage,
  Unsubscribe,
} from "./gateways/gateway.js";
export { createRegistry } from "./gateways/registry.js";
export type { Registry } from "./gateways/registry.js";
export { memoryGateway } from "./gateways/memory-gateway.js";
export { Connection } from "./sync/connection.js";
export type { ConnectionStatus } from "./sync/connection.js";
export type { PublishOptions } from "./sync/remote.js";
export type { ConnectOptions } from "./sync/resolve-remote.js";
export type { RemoteFactory, RemotePlan } from "./sync/remote-factory.js";
export { createSyncServerRemote } from "./sync/sync-server-remote.js";
export type { SocketClass, SocketLike, SocketLoader } from "./sync/socket.js";
export type { Transport } from "./sync/remote.js";
export { ProtocolError } from "./sync/protocol/index.js";
export type { ErrorReason } from "./sync/protocol/index.js";
export { TransportError, TimeoutError } from "./sync/transport-error.js";
