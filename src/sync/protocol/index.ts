// The Kiln sync protocol, version 2 — one file per message; docs/protocol.md specifies it.
export * from "./fields.js";
export * from "./codec.js";
export * from "./commit-check.js";
export {
  ERROR_REASONS,
  HTTP_STATUS,
  isRetryable,
  ProtocolError,
} from "./error.js";
export type { ErrorReason, ErrorMessage } from "./error.js";
export type { Hello } from "./hello.js";
export { MAX_TOKEN, MAX_TOKENS } from "./hello.js";
export type { Welcome } from "./welcome.js";
export type { Pull } from "./pull.js";
export type { Commits } from "./commits.js";
export type { Heads } from "./heads.js";
export type { Push } from "./push.js";
export type { Ack } from "./ack.js";
export type { Publish, Snapshot } from "./snapshot.js";
export type { DeleteLedger, Deleted } from "./delete.js";
export type { Ping, Pong } from "./ping.js";
export type { Upload, Uploads } from "./upload.js";
export { MAX_UPLOAD_URL } from "./upload.js";
