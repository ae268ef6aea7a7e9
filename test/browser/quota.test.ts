// A full storage quota: the put that does not fit rejects with QuotaError, nothing stored
// before is lost, and the ledger works again once there is room (CDP's
// Storage.overrideQuotaForOrigin makes the small quota).
import { afterAll, describe, expect, it } from "vitest";
import { callPage, startBrowserSuite } from "./harness.js";

const suite = await startBrowserSuite({
  ledger: "test/browser/pages/ledger.page.ts",
});
afterAll(() => suite.close());

describe("a full quota in chromium", () => {
  it("rejects the write with QuotaError and loses nothing stored", async () => {
    const page = await suite.open("ledger");
    const cdp = await suite.chromium.context.newCDPSession(page);
    // Set before the origin's first IndexedDB open: Chromium applies an override to storage
    // opened after it.
    await cdp.send("Storage.overrideQuotaForOrigin", {
      origin: suite.pages.origin,
      quotaSize: 1_500_000,
    });
    // Some docs first, with room to spare.
    const before = await callPage<string[]>(
      page,
      "putEach",
      "quota",
      Array.from({ length: 20 }, (_, i) => ({ _id: `early-${i}`, i })),
    );
    expect(before).toHaveLength(20);
    const filled = await callPage<{
      ids: string[];
      error?: { name: string; code: string; message: string };
    }>(page, "fill", "quota", 50_000, 400);
    expect(filled.error).toMatchObject({ name: "QuotaError", code: "quota" });
    expect(filled.error!.message).toContain("quota");
    // Every write that resolved is there, with the earlier docs.
    const docs = await callPage<{ _id: string }[]>(page, "allDocs", "quota");
    expect(new Set(docs.map((d) => d._id))).toEqual(
      new Set([...before, ...filled.ids]),
    );
    // Room again: the ledger takes writes.
    await cdp.send("Storage.overrideQuotaForOrigin", {
      origin: suite.pages.origin,
    });
    await callPage(page, "putEach", "quota", [{ _id: "after" }]);
    expect(await callPage<unknown[]>(page, "allDocs", "quota")).toHaveLength(
      docs.length + 1,
    );
    await page.reload();
    await page.waitForFunction(() => "kiln" in globalThis);
    expect(await callPage<unknown[]>(page, "allDocs", "quota")).toHaveLength(
      docs.length + 1,
    );
  });
});
