// Type-aware lint plus the layer rules of DESIGN.md: each folder of src/ may import only
// from the layers below it. The cycle check (dpdm) runs separately in `npm test`.
import tseslint from "typescript-eslint";

const layer = (dir, forbidden, extra = []) => ({
  files: [`src/${dir}/**/*.ts`],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        // Nothing below the React bindings imports React.
        paths:
          dir === "react"
            ? []
            : ["react", "react-dom"].map((name) => ({
                name,
                message: "only src/react imports React",
              })),
        patterns: [
          ...forbidden.map((f) => ({
            group: [`**/${f}/*`, `**/${f}`],
            message: `src/${dir} may not import from src/${f} (see DESIGN.md layers)`,
          })),
          ...extra,
        ],
      },
    ],
  },
});

const nodeIo = {
  group: ["node:*", "fs", "path", "os", "child_process"],
  message: "crdt/ is pure: no I/O",
};

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "node_modules/**",
      "bench/**",
      "coverage/**",
      "bin/**",
      "tmp/**",
      "examples/apps/dist/**",
      ".ci/**",
      "eslint.config.js",
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_" },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector:
            "MemberExpression[object.name='process'][property.name='env']",
          message: "only src/cli reads process.env",
        },
      ],
    },
  },
  layer("util", [
    "trust",
    "blocks",
    "crdt",
    "gateways",
    "sync",
    "ledger",
    "server",
    "cli",
  ]),
  layer("blocks", [
    "trust",
    "crdt",
    "gateways",
    "sync",
    "ledger",
    "server",
    "cli",
  ]),
  // Signatures and membership: above blocks, below crdt, and blind (the server imports it),
  // so of blocks only the public half of a commit.
  layer(
    "trust",
    ["crdt", "gateways", "sync", "ledger", "server", "cli"],
    [
      {
        group: [
          "**/blocks/*",
          "!**/blocks/cid.js",
          "!**/blocks/envelope.js",
          "!**/blocks/cbor-writer.js",
        ],
        message:
          "src/trust is blind: of blocks it may import only cid, envelope and cbor-writer",
      },
    ],
  ),
  layer("crdt", ["gateways", "sync", "ledger", "server", "cli"], [nodeIo]),
  layer("gateways", ["crdt", "sync", "ledger", "server", "cli"]),
  layer("sync", ["crdt", "ledger", "server", "cli"]),
  layer("ledger", ["server", "cli", "platform", "react"]),
  // Platform bindings (Node, browser) sit above the ledger and below the entry points.
  layer("platform", ["server", "cli", "react"]),
  // React bindings sit on top of the ledger and the platforms; nothing below imports React.
  layer("react", ["server", "cli"]),
  layer(
    "server",
    ["crdt", "ledger", "cli", "gateways"],
    [
      {
        // The server is blind: of sync it may use only the protocol, of blocks only CIDs.
        group: [
          "**/sync/*",
          "!**/sync/protocol",
          "**/blocks/*",
          "!**/blocks/cid.js",
        ],
        message:
          "src/server may import only sync/protocol and blocks/cid (DESIGN.md: the server is blind)",
      },
    ],
  ),
  {
    files: [
      "src/cli/**/*.ts",
      "test/**/*.ts",
      "**/*.test.ts",
      "vitest.config.ts",
      "examples/**/*.ts",
    ],
    rules: { "no-restricted-syntax": "off" },
  },
  {
    files: ["**/*.test.ts", "test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/unbound-method": "off",
    },
  },
);
