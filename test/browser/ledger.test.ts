// The browser entry's openLedger in Chromium: default storage indexeddb://kiln (one database,
// many ledgers), and writes whose put() resolved are there after a reload.
import { afterAll, describe, expect, it } from "vitest";
import { callPage, startBrowserSuite } from "./harness.js";

const suite = await startBrowserSuite({
  ledger: "test/browser/pages/ledger.page.ts",
});
afterAll(() => suite.close());

describe("openLedger in chromium", () => {
  it("keeps ledgers in the one indexeddb://kiln database by default, across a reload", async () => {
    const page = await suite.open("ledger");
    const docs = Array.from({ length: 40 }, (_, i) => ({
      _id: `order-${i}`,
      amount: i,
      note: "é".repeat(i % 5),
    }));
    await callPage(page, "putEach", "orders", docs);
    await callPage(page, "putEach", "customers", [{ _id: "acme" }]);
    expect(await callPage<string[]>(page, "databases")).toEqual(["kiln"]);
    await page.reload();
    await page.waitForFunction(() => "kiln" in globalThis);
    expect(await callPage(page, "allDocs", "orders")).toEqual(
      [...docs].sort((a, b) => (a._id < b._id ? -1 : 1)),
    );
    expect(await callPage(page, "allDocs", "customers")).toEqual([
      { _id: "acme" },
    ]);
    await callPage(page, "close");
    await page.close();
  });
});
