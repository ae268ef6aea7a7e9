// Every TypeScript sample in README.md, and every example, runs as a test: each in its own
// process and an empty working directory, importing "kiln" from this checkout.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { tsxLoader } from "./fixtures/tsx-loader.js";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "..");
const entry = join(root, "src/index.ts");
const serverEntry = join(root, "src/server/index.ts");
// Samples run in an empty directory: the packages they import resolve from this checkout.
const zodEntry = import.meta.resolve("zod");

async function runTs(source: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kiln-sample-"));
  try {
    const file = join(dir, "sample.mts");
    await writeFile(
      file,
      source
        .replaceAll(/from "kiln"/g, `from ${JSON.stringify(entry)}`)
        .replaceAll(
          /from "kiln\/server"/g,
          `from ${JSON.stringify(serverEntry)}`,
        )
        .replaceAll(
          /from "\.\.\/src\/index\.js"/g,
          `from ${JSON.stringify(entry)}`,
        )
        .replaceAll(/from "zod"/g, `from ${JSON.stringify(zodEntry)}`),
    );
    const { stdout } = await run(
      process.execPath,
      ["--import", tsxLoader, file],
      { cwd: dir, env: { ...process.env, NODE_OPTIONS: "" } },
    );
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const readme = await readFile(join(root, "README.md"), "utf8");
const samples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe("README samples", () => {
  it("has samples", () => {
    expect(samples.length).toBeGreaterThanOrEqual(2);
  });
  samples.forEach((sample, i) => {
    it(`sample ${i + 1} runs`, async () => {
      const out = await runTs(sample);
      expect(out.length).toBeGreaterThan(0);
      if (sample.includes("NotFoundError"))
        expect(out).toContain("true not-found");
      if (sample.includes('"hello"')) expect(out.trim()).toBe("hello");
      if (sample.includes("SchemaError"))
        expect(out.trim()).toBe("true t2\ntyped open");
      if (sample.includes("kiln/server"))
        expect(out.trim()).toBe("{ kind: 'live', transport: 'ws' } 0");
    });
  });
});

describe("examples", async () => {
  const files = (await readdir(join(root, "examples"))).filter((f) =>
    f.endsWith(".ts"),
  );
  for (const f of files)
    it(`${f} runs twice (the second run sees the first run's docs)`, async () => {
      const source = await readFile(join(root, "examples", f), "utf8");
      const dir = await mkdtemp(join(tmpdir(), "kiln-example-"));
      try {
        const file = join(dir, "example.mts");
        await writeFile(
          file,
          source.replaceAll(
            /from "\.\.\/src\/([^"]*)\.js"/g,
            (_, path: string) =>
              `from ${JSON.stringify(join(root, "src", `${path}.ts`))}`,
          ),
        );
        const first = await run(
          process.execPath,
          ["--import", tsxLoader, file],
          { cwd: dir },
        );
        const second = await run(
          process.execPath,
          ["--import", tsxLoader, file],
          { cwd: dir },
        );
        expect(first.stdout).toContain("3 orders");
        expect(second.stdout).toContain("3 orders");
        expect(second.stdout).toMatch(/over ws: the phone has 3 orders/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
});
