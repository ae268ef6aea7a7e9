// Builds the example apps with Vite into examples/apps/dist (or `outDir`): all of them, or
// only those named.
import { resolve } from "node:path";
import { build } from "vite";
import { APP_NAMES, appsConfig } from "./vite.config.js";

export async function buildApps(
  outDir = resolve(import.meta.dirname, "dist"),
  only: readonly string[] = APP_NAMES,
): Promise<string> {
  await build({ ...appsConfig(only, outDir), configFile: false });
  return outDir;
}
