// The API reference (npm run docs, TypeDoc) documents every public export of kiln,
// kiln/react and kiln/server: an export without a doc comment fails here.
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "..");

describe("API reference", () => {
  it("documents every public export (typedoc, warnings as errors)", async () => {
    const typedoc = resolve(root, "node_modules/typedoc/bin/typedoc");
    const result = await run(
      process.execPath,
      [
        typedoc,
        "--emit",
        "none",
        "--treatWarningsAsErrors",
        "--logLevel",
        "Warn",
      ],
      { cwd: root },
    ).catch((error: { stdout?: string; stderr?: string }) => error);
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
    expect(output.replace(/\x1b\[[0-9;]*m/g, "")).not.toMatch(/warning|error/i);
    // TypeDoc builds a whole TypeScript program (~20 s quiet); on a loaded 2-core CI
    // machine it has taken over a minute.
  }, 240_000);
});
