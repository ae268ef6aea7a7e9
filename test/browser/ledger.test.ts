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

  it("checkpoints every 1,000 ops in a browser (20,000 in Node), so a reload replays little", async () => {
    const page = await suite.open("ledger");
    const docs = Array.from({ length: 999 }, (_, i) => ({ _id: `d-${i}` }));
    await callPage(page, "bulkEach", "often", docs, 333);
    expect(await callPage(page, "hasCheckpoint", "often")).toBe(false);
    // The 1,000th op queues a checkpoint behind it; the next write waits for it.
    await callPage(page, "putEach", "often", [
      { _id: "d-999" },
      { _id: "next" },
    ]);
    expect(await callPage(page, "hasCheckpoint", "often")).toBe(true);
    await page.reload();
    await page.waitForFunction(() => "kiln" in globalThis);
    expect(await callPage(page, "allDocs", "often")).toHaveLength(1001);
    await callPage(page, "close");
    await page.close();
  });
});
