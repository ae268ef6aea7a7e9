// A write whose put() resolved survives a killed browser: Chromium is SIGKILLed while a page
// streams puts, relaunched on the same profile, and every put it saw resolve is there; the
// ledger opens cleanly and takes new writes.
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import {
  bundlePages,
  callPage,
  launchChromium,
  openPage,
  servePages,
} from "./harness.js";
import type { Chromium, PageServer } from "./harness.js";

const pages: PageServer = await servePages(
  await bundlePages({ ledger: "test/browser/pages/ledger.page.ts" }),
);
const profiles: string[] = [];
afterAll(async () => {
  await pages.close();
  for (const dir of profiles)
    rmSync(dir, {
      recursive: true,
      force: true,
      maxRetries: 10,
      retryDelay: 100,
    });
});

/** The ids the page reports as resolved, and a wait for the n-th one (no polling). */
function resolvedLog() {
  const ids: string[] = [];
  let waiter: { count: number; resolve: () => void } | undefined;
  return {
    ids,
    push(id: string) {
      ids.push(id);
      if (waiter && ids.length >= waiter.count) waiter.resolve();
    },
    until(count: number, timeoutMs = 30_000): Promise<void> {
      if (ids.length >= count) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `only ${ids.length} of ${count} puts resolved in ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
        waiter = {
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    },
  };
}

describe.each([
  "indexeddb://kiln",
  "indexeddb://kiln-relaxed?durability=relaxed",
])("SIGKILL of chromium mid-stream on %s", (storage) => {
  it("keeps every resolved put; the ledger reopens cleanly and writes on", async () => {
    let browser: Chromium = await launchChromium();
    profiles.push(browser.userDataDir);
    const resolved = resolvedLog();
    const page = await openPage(browser.context, pages.url("ledger"));
    await page.exposeFunction("kilnResolved", (id: string) =>
      resolved.push(id),
    );
    const streaming = callPage(
      page,
      "stream",
      "stream",
      100_000,
      storage,
    ).catch(() => "killed");
    await resolved.until(150);
    await browser.kill();
    expect(await streaming).toBe("killed");
    const seen = [...resolved.ids];

    browser = await launchChromium({ userDataDir: browser.userDataDir });
    try {
      const again = await openPage(browser.context, pages.url("ledger"));
      const docs = await callPage<{ _id: string; i: number }[]>(
        again,
        "allDocs",
        "stream",
        storage,
      );
      const stored = new Set(docs.map((d) => d._id));
      expect(seen.filter((id) => !stored.has(id))).toEqual([]);
      // Writes are serial: what is stored is a prefix of the stream, with no holes.
      expect(docs.map((d) => d.i).sort((a, b) => a - b)).toEqual(
        Array.from({ length: docs.length }, (_, i) => i),
      );
      await callPage(
        again,
        "putEach",
        "stream",
        [{ _id: "after-crash" }],
        storage,
      );
      const after = await callPage<{ _id: string }[]>(
        again,
        "allDocs",
        "stream",
        storage,
      );
      expect(after).toHaveLength(docs.length + 1);
    } finally {
      await browser.close();
    }
  });
});
