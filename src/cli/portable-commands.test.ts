// kiln export / kiln import through main(), on file:// stores, with a progress bar drawn on a
// (fake) terminal and none on a pipe.
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CarReader } from "@ipld/car/reader";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "./main.js";
import { formatProgress } from "./progress-bar.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function temp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kiln-portable-"));
  dirs.push(dir);
  return dir;
}

async function run(args: string[], env: Record<string, string>, tty = false) {
  const out: string[] = [];
  const err: string[] = [];
  const drawn: string[] = [];
  const code = await main(
    args,
    env,
    (l) => out.push(l),
    (l) => err.push(l),
    undefined,
    { isTTY: tty, write: (t: string) => drawn.push(t) },
  );
  return { code, out, err, drawn: drawn.join("") };
}

describe("kiln export / import", () => {
  it("moves a ledger through a CAR file: same heads, same docs with the key", async () => {
    const from = { KILN_STORAGE: pathToFileURL(await temp()).href };
    const to = { KILN_STORAGE: pathToFileURL(await temp()).href };
    for (let i = 0; i < 5; i++)
      expect(
        (await run(["put", "orders", `{"_id":"o${i}","n":${i}}`], from)).code,
      ).toBe(0);
    const key = (await run(["key", "orders"], from)).out[0]!;
    const file = join(await temp(), "orders.car");

    const exported = await run(["export", "orders", "--out", file], from, true);
    expect(exported.code).toBe(0);
    expect(exported.out[0]).toBe(`exported orders: 6 blocks to ${file}`);
    expect(exported.drawn).toContain(
      "export [##############################] 6/6",
    );
    expect(exported.drawn.endsWith("\n")).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const reader = await CarReader.fromBytes(await readFile(file));
    expect(await reader.getRoots()).toHaveLength(1);

    const imported = await run(["import", "orders", file], {
      ...to,
      KILN_KEY: key,
    });
    expect(imported.code).toBe(0);
    expect(imported.drawn).toBe(""); // not a terminal: no bar
    expect(imported.out[0]).toMatch(
      /^imported orders: 5 commits and a snapshot, heads \S+$/,
    );
    expect((await run(["ls", "orders"], to)).out).toEqual(
      (await run(["ls", "orders"], from)).out,
    );

    // compact draws its bar too.
    const compacted = await run(["compact", "orders"], from, true);
    expect(compacted.code).toBe(0);
    expect(compacted.drawn).toContain(
      "compact [##############################] 3/3",
    );

    // Into a storage that holds the ledger already: refused.
    const again = await run(["import", "orders", file], to);
    expect(again.code).toBe(1);
    expect(again.err[0]).toContain("invalid-argument");
  });

  it("explains its arguments", async () => {
    const env = { KILN_STORAGE: pathToFileURL(await temp()).href };
    expect((await run(["export", "orders"], env)).code).toBe(2);
    expect((await run(["import", "orders"], env)).code).toBe(2);
    const missing = await run(["import", "orders", "/nonexistent/x.car"], env);
    expect(missing.code).toBe(1);
  });

  it("draws a bar, or a count when the total is unknown", () => {
    expect(formatProgress({ phase: "import", done: 5, total: 10 })).toBe(
      `import [${"#".repeat(15)}${"-".repeat(15)}] 5/10`,
    );
    expect(
      formatProgress({ phase: "catch-up", done: 7, total: undefined }),
    ).toBe("catch-up 7");
  });
});
