// Kiln's public API on Node: named re-exports only. Browsers get src/index.browser.ts (the
// "browser" condition of package.json's exports), which has no file or folder gateways.
export * from "./index.core.js";
export {
  openLedger,
  whoami,
  importLedger,
  nodePlatform,
} from "./platform/node-platform.js";
export { DEFAULT_STORAGE_DIR } from "./ledger/open-ledger.js";
// verifyLedger and verifyExport are Node-only for now: they default to node:crypto and the
// Node default registry.
export { verifyLedger } from "./ledger/verify-ledger.js";
export type { VerifyOptions, VerifyReport } from "./ledger/verify-ledger.js";
export { verifyExport } from "./ledger/verify-export.js";
export type {
  VerifyExportOptions,
  VerifyExportReport,
} from "./ledger/verify-export.js";
export { nodeSigning } from "./trust/node-signing.js";
export { fileGateway } from "./gateways/file-gateway.js";
export { folderGateway } from "./gateways/folder-gateway.js";
export {
  createDefaultRegistry,
  DEFAULT_GATEWAYS,
  syncServerRemote,
} from "./sync/default-registry.js";
