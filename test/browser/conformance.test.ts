import type { Page } from "playwright-core";
import { afterAll, describe } from "vitest";
import { callPage, startBrowserSuite } from "./harness.js";
import { definePageTests } from "./page-tests.js";

const suite = await startBrowserSuite({
  conformance: "test/browser/pages/conformance.page.ts",
});
const page: Page = await suite.open("conformance");
const names = await callPage<string[]>(page, "listTests");
afterAll(() => suite.close());

describe("in chromium", () => {
  definePageTests(() => page, names);
});
