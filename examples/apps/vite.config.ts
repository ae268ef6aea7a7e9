// One Vite build for the example apps (each an index.html of its own). Inside this repository
// "kiln" and "kiln/react" resolve to the browser entries' sources; an app copied out of it
// imports the installed package, whose "browser" export condition picks the same entries.
import { resolve } from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import type { UserConfig } from "vite";

const root = import.meta.dirname;

export const APP_NAMES = ["trade-approval", "supply-chain"] as const;

/** The build of the apps named (all by default) into `outDir`. */
export function appsConfig(
  apps: readonly string[] = APP_NAMES,
  outDir = resolve(root, "dist"),
): UserConfig {
  return {
    root,
    base: "/",
    plugins: [react()],
    logLevel: "warn",
    resolve: {
      alias: [
        {
          find: /^kiln\/react$/,
          replacement: resolve(root, "../../src/react/index.browser.ts"),
        },
        {
          find: /^kiln$/,
          replacement: resolve(root, "../../src/index.browser.ts"),
        },
      ],
    },
    build: {
      outDir,
      emptyOutDir: true,
      // Each app is one chunk with Kiln and React in it (~300 KB before gzip): no splitting.
      chunkSizeWarningLimit: 1024,
      rollupOptions: {
        input: Object.fromEntries(
          apps.map((app) => [app, resolve(root, app, "index.html")]),
        ),
      },
    },
  };
}

export default defineConfig(appsConfig());
