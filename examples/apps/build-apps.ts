// Builds the example apps with Vite into examples/dist (or `outDir`).
import { resolve } from "node:path";
import { build } from "vite";

export async function buildApps(
  outDir = resolve(import.meta.dirname, "dist"),
): Promise<string> {
  await build({
    configFile: resolve(import.meta.dirname, "vite.config.ts"),
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}
