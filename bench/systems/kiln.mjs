// Kiln, loaded from the repo's build output (dist/index.js, made by `npm run build`).
// BENCH_KILN_MODULE may point at another build (an absolute path or file: URL).
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const id = "kiln";
export const label = "Kiln";

const ROOT_PKG = new URL("../../package.json", import.meta.url);

export function modulePath() {
  const override = process.env.BENCH_KILN_MODULE;
  if (override)
    return override.startsWith("file:")
      ? fileURLToPath(override)
      : resolve(override);
  return fileURLToPath(new URL("../../dist/index.js", import.meta.url));
}

let openLedger;

export async function load() {
  const path = modulePath();
  if (!existsSync(path)) {
    throw new Error(
      `Kiln is not built: ${path} is missing (run \`npm run build\` in the repo root)`,
    );
  }
  const mod = await import(pathToFileURL(path).href);
  if (typeof mod.openLedger !== "function") {
    throw new Error(
      `${path} does not export openLedger() (is the build complete?)`,
    );
  }
  openLedger = mod.openLedger;
  let version = "?";
  try {
    version = JSON.parse(readFileSync(ROOT_PKG, "utf8")).version;
  } catch {
    // version is cosmetic
  }
  const from = process.env.BENCH_KILN_MODULE ? `, from ${path}` : "";
  return { version, note: `file:// store, encrypted${from}` };
}

export async function open(dir, name) {
  const ledger = await openLedger(name, {
    storage: pathToFileURL(join(dir, name)).href,
  });
  return {
    async put(doc) {
      return ledger.put(doc);
    },
    async bulk(docs) {
      return ledger.bulk(docs);
    },
    async get(docId) {
      return ledger.get(docId);
    },
    /** Replace a doc that exists (Kiln needs no revision); returns the doc as stored. */
    async update(doc) {
      await ledger.put(doc);
      return doc;
    },
    /** Rows of the field index where `field` = key, docs included: [{ id, doc }]. */
    async query(field, key, { limit } = {}) {
      const { rows } = await ledger.query(field, { key, limit });
      return rows;
    },
    async compact() {
      await ledger.compact();
    },
    async close() {
      await ledger.close();
    },
  };
}
