import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { main } from "./main.js";

async function run(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    env,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out, err };
}

describe("kiln cli", () => {
  it("puts, gets, lists, deletes and prints the key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kiln-cli-"));
    try {
      const env = { KILN_STORAGE: pathToFileURL(dir).href };
      expect(
        (await run(["put", "orders", '{"_id":"o1","amount":42}'], env)).out,
      ).toEqual(["o1"]);
      expect((await run(["put", "orders", '{"amount":7}'], env)).code).toBe(0);
      expect((await run(["get", "orders", "o1"], env)).out).toEqual([
        '{"_id":"o1","amount":42}',
      ]);
      expect((await run(["ls", "orders", "--prefix", "o"], env)).out).toEqual([
        '{"_id":"o1","amount":42}',
      ]);
      expect((await run(["ls", "orders"], env)).out).toHaveLength(2);
      expect((await run(["key", "orders"], env)).out[0]).toMatch(
        /^[A-Za-z0-9_-]{43}$/,
      );
      expect((await run(["del", "orders", "o1"], env)).code).toBe(0);
      const missing = await run(["get", "orders", "o1"], env);
      expect(missing.code).toBe(1);
      expect(missing.err[0]).toContain("not-found");
      expect((await run(["put", "orders", "{not json"], env)).code).toBe(2);
      expect((await run(["get", "orders"], env)).code).toBe(2);
      expect((await run(["--help"], env)).code).toBe(0);
      expect(
        (await run(["ls", "orders", "--storage", "nope://x"], env)).err[0],
      ).toContain("invalid-url");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
