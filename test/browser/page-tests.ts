// Registers each test a page defines (with page-vitest's describe/it) as a vitest test that
// runs in Chromium, so a failure names the in-page test and carries its assertion message.
import type { Page } from "playwright-core";
import { it } from "vitest";
import { callPage } from "./harness.js";

export function definePageTests(page: () => Page, names: string[]): void {
  for (const name of names)
    it(name, async () => {
      await callPage(page(), "runTest", name);
    });
}
