// The exported gateway conformance suite, run in Chromium over indexeddb:// (and memory://,
// the other gateway of the browser entry).
import { describeGatewayConformance } from "../../../src/gateways/gateway-conformance.js";
import { indexedDbGateway, memoryGateway } from "../../../src/index.browser.js";
import { listTests, runTest } from "./page-vitest.js";

const idbUrl = (name: string) =>
  indexedDbGateway.open(indexedDbGateway.parse(new URL(name)));

describeGatewayConformance(
  "indexeddb",
  () => idbUrl("indexeddb://kiln-conformance"),
  { openSibling: (first) => idbUrl(first.url) },
);

describeGatewayConformance(
  "indexeddb (relaxed durability)",
  () => idbUrl("indexeddb://kiln-conformance-relaxed?durability=relaxed"),
  { openSibling: (first) => idbUrl(first.url) },
);

let room = 0;
describeGatewayConformance(
  "memory",
  () =>
    memoryGateway.open(memoryGateway.parse(new URL(`memory://page-${++room}`))),
  {
    openSibling: (first) =>
      memoryGateway.open(memoryGateway.parse(new URL(first.url))),
  },
);

Object.assign(globalThis, { kiln: { listTests, runTest } });
