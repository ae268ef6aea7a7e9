// Kiln's public API in browsers: named re-exports only. Its graph reaches no node: module and
// no Node-only package (test/browser/bundle.test.ts bundles it to prove that).
export * from "./index.core.js";
export {
  openLedger,
  whoami,
  browserPlatform,
  browserGateways,
  DEFAULT_BROWSER_STORAGE,
} from "./platform/browser-platform.js";
export { indexedDbGateway } from "./gateways/indexeddb-gateway.js";
export type {
  Durability,
  IndexedDbGatewayOptions,
} from "./gateways/indexeddb-gateway.js";
