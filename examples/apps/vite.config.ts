// One Vite build for the example apps (each an index.html of its own). Inside this repository
// "kiln" and "kiln/react" resolve to the browser entries' sources; an app copied out of it
// imports the installed package, whose "browser" export condition picks the same entries.
import { resolve } from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const root = import.meta.dirname;

export const APPS = ["trade-approval"] as const;

export default defineConfig({
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
    outDir: resolve(root, "dist"),
    emptyOutDir: true,
    rollupOptions: {
      input: Object.fromEntries(
        APPS.map((app) => [app, resolve(root, app, "index.html")]),
      ),
    },
  },
});
