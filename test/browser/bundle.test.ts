// The browser entry (package.json exports, "browser" condition) must bundle for a browser
// with no Node polyfills: no node: module and no Node-only package anywhere in its graph.
import { readFileSync } from "node:fs";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const NODE_ONLY = [
  "ws",
  "postgres",
  "better-sqlite3",
  "bufferutil",
  "@20minutes/s3rver",
];

describe("browser entry", () => {
  it.each([
    "src/index.browser.ts",
    // kiln/react's browser entry; React itself is the app's (a peer dependency).
    "src/react/index.browser.ts",
  ])(
    "%s bundles for platform browser reaching no node: module and no Node-only package",
    async (entry) => {
      const result = await build({
        entryPoints: [entry],
        external: ["react", "react-dom"],
        bundle: true,
        format: "esm",
        platform: "browser",
        write: false,
        metafile: true,
        logLevel: "silent",
      });
      const inputs = Object.entries(result.metafile.inputs);
      const reached = inputs.flatMap(([path, input]) =>
        input.imports.map((i) => ({ from: path, path: i.path })),
      );
      expect(reached.filter((i) => i.path.startsWith("node:"))).toEqual([]);
      const packages = inputs
        .map(([path]) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1])
        .filter((p): p is string => p !== undefined);
      expect(packages.filter((p) => NODE_ONLY.includes(p))).toEqual([]);
      // The Node-only gateways are absent, not stubbed.
      expect(
        inputs
          .map(([path]) => path)
          .filter((p) => /(file|folder)-gateway/.test(p)),
      ).toEqual([]);
      // The wire schemas use zod/mini: one `import ... from "zod"` would pull zod's classic
      // API (about 70 KB minified) back into every page.
      expect(
        inputs
          .map(([path]) => path)
          .filter((p) => p.includes("zod/v4/classic")),
        'a module imports "zod" instead of "zod/mini"',
      ).toEqual([]);
    },
  );

  it("package.json maps the browser condition to the browser entry", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
      exports: Record<string, Record<string, unknown>>;
    };
    const root = pkg.exports["."]!;
    // Conditions match in order: browser must come before the Node defaults.
    expect(Object.keys(root)[0]).toBe("browser");
    expect(root.browser).toEqual({
      types: "./dist/index.browser.d.ts",
      import: "./dist/index.browser.js",
    });
    expect(Object.keys(pkg.exports["./react"]!)[0]).toBe("browser");
    expect(pkg.exports["./react"]!.browser).toEqual({
      types: "./dist/react/index.browser.d.ts",
      import: "./dist/react/index.browser.js",
    });
    // kiln/server and the CLI stay Node-only: no browser condition.
    for (const [path, entry] of Object.entries(pkg.exports))
      if (path !== "." && path !== "./react")
        expect(entry).not.toHaveProperty("browser");
  });
});
