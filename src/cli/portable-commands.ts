// `kiln export` and `kiln import`: a ledger to and from a CAR file, with a progress bar on a
// terminal.
import { createWriteStream } from "node:fs";
import { open, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { exportLedger } from "../ledger/export-ledger.js";
import type { ImportResult } from "../ledger/import-ledger.js";
import { importLedger, openLedger } from "../platform/node-platform.js";
import { createProgressBar } from "./progress-bar.js";
import type { Terminal } from "./progress-bar.js";

export interface PortableOptions {
  storage: string;
  key: string | undefined;
  terminal: Terminal;
}

/** Writes the ledger to `file` (replaced); a failed export leaves no file behind. */
export async function exportToFile(
  name: string,
  file: string,
  options: PortableOptions,
): Promise<{ blocks: number }> {
  const ledger = await openLedger(name, {
    storage: options.storage,
    ...(options.key !== undefined ? { key: options.key } : {}),
  });
  const bar = createProgressBar(options.terminal);
  let blocks = 0;
  try {
    await pipeline(
      Readable.from(
        exportLedger(ledger, {
          onProgress: (p) => {
            blocks = p.done;
            bar.onProgress?.(p);
          },
        }),
      ),
      createWriteStream(file, { mode: 0o600 }),
    );
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  } finally {
    bar.finish();
    await ledger.close();
  }
  return { blocks };
}

export async function importFromFile(
  name: string,
  file: string,
  options: PortableOptions,
): Promise<ImportResult> {
  // Opened first: a missing file fails here, not as a stream error nobody listens to yet.
  const handle = await open(file, "r");
  const bar = createProgressBar(options.terminal);
  try {
    return await importLedger(
      name,
      handle.createReadStream() as AsyncIterable<Uint8Array>,
      {
        storage: options.storage,
        ...(options.key !== undefined ? { key: options.key } : {}),
        ...(bar.onProgress ? { onProgress: bar.onProgress } : {}),
      },
    );
  } finally {
    bar.finish();
    await handle.close();
  }
}
