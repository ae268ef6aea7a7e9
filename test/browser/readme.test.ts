// The README's browser sample (its ```ts browser block) runs in Chromium as written, bundled
// with "kiln" resolved to the browser entry, against a kiln serve started here (the one
// change: the sample's ws://127.0.0.1:7070 becomes that server's address).
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { createSyncServer } from "../../src/server/index.js";
import { bundlePages, launchChromium, servePages } from "./harness.js";

const readme = readFileSync("README.md", "utf8");
const samples = [...readme.matchAll(/```ts browser\n([\s\S]*?)```/g)].map(
  (m) => m[1]!,
);

const dir = mkdtempSync(join(tmpdir(), "kiln-readme-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("README browser sample", () => {
  it("exists", () => {
    expect(samples).toHaveLength(1);
  });

  it("runs in chromium against kiln serve", async () => {
    const server = createSyncServer({ backend: createMemoryBackend() });
    const { url } = await server.listen({ port: 0 });
    const source = samples[0]!.replace(
      "ws://127.0.0.1:7070",
      url.replace(/^http/, "ws"),
    );
    const entry = join(dir, "sample.ts");
    writeFileSync(
      entry,
      // The sample is a module body: its output is reported to the test when it ends.
      `${source}\n;(globalThis as { kilnDone?: boolean }).kilnDone = true;\n`,
    );
    const pages = await servePages(
      await bundlePages(
        { sample: entry },
        { kiln: resolve("src/index.browser.ts") },
      ),
    );
    const chromium = await launchChromium();
    try {
      const page = await chromium.context.newPage();
      const logs: string[] = [];
      const errors: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "log") logs.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(pages.url("sample"));
      await page.waitForFunction(() => "kilnDone" in globalThis, undefined, {
        timeout: 20_000,
      });
      expect(errors).toEqual([]);
      expect(logs).toEqual(["o1 live"]);
      expect(await page.textContent("#out")).toBe("o1");
    } finally {
      await chromium.close();
      await pages.close();
      await server.close();
    }
  });
});
