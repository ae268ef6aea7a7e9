// kiln/react in real Chromium: the page (pages/hooks.page.tsx) renders the hooks with
// @testing-library/react; each of its tests runs here as a vitest test. A SyncServer with a
// secret answers the page's connections (for the refused-token test).
import type { Page } from "playwright-core";
import { afterAll, describe } from "vitest";
import {
  createMemoryBackend,
  createSyncServer,
} from "../../src/server/index.js";
import { callPage, startBrowserSuite } from "../browser/harness.js";
import { definePageTests } from "../browser/page-tests.js";

const server = createSyncServer({
  backend: createMemoryBackend(),
  secret: "react-hooks-test-secret-0123456789abcdef",
});
const listener = await server.listen({ port: 0, host: "127.0.0.1" });
const suite = await startBrowserSuite({
  hooks: "test/react/pages/hooks.page.tsx",
});
const page: Page = await suite.open("hooks");
await callPage(page, "configure", {
  serverUrl: listener.url.replace(/\/$/, ""),
});
const names = await callPage<string[]>(page, "listTests");
afterAll(async () => {
  await suite.close();
  await server.close();
});

describe("kiln/react in chromium", () => {
  definePageTests(() => page, names);
});
