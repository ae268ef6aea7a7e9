// exportLedger: a ledger as a CARv1 byte stream — a small manifest block first, then the
// snapshot of its state and every commit its storage holds, all still encrypted, roots = the
// ledger's heads. Every block is named by the CID of its bytes, so any CAR reader can check
// it; only a holder of the key can read it. Layout: docs/format.md, "Portable ledgers".
import { CarWriter } from "@ipld/car/writer";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { checkCommit } from "../sync/protocol/index.js";
import { ClosedError, CorruptError } from "../util/errors.js";
import type { OnProgress } from "../util/progress.js";
import { internalsOf } from "./ledger-internals.js";

/** Options of exportLedger(). */
export interface ExportOptions {
  /** Told after each block: phase "export", done/total in blocks. */
  onProgress?: OnProgress;
}

/** What the first block of an export holds. */
export interface ExportManifest {
  kiln: "ledger-export";
  v: 1;
  ledger: string;
  /** The snapshot block's CID, or null for an empty ledger. */
  snapshot: CID | null;
  /** Blocks after this one. */
  blocks: number;
}

export const MANIFEST_KIND = "ledger-export";

/**
 * The ledger as CAR bytes, in chunks. The ledger's state is taken at once (heads, commits and
 * snapshot together); writes made while the stream is read are not in it.
 */
export function exportLedger(
  ledger: { readonly name: string },
  options: ExportOptions = {},
): AsyncIterable<Uint8Array> {
  const { storage, snapshots, isClosed } = internalsOf(ledger, "exportLedger");
  const name = ledger.name;
  return (async function* () {
    if (isClosed()) throw new ClosedError(`ledger ${name}`);
    const { heads, commits, snapshot } = await snapshots.exportState();
    const manifest: ExportManifest = {
      kiln: MANIFEST_KIND,
      v: 1,
      ledger: name,
      snapshot: snapshot?.cid ?? null,
      blocks: commits.length + (snapshot ? 1 : 0),
    };
    const manifestBytes = dagCbor.encode(manifest);
    const manifestCid = CID.create(
      1,
      dagCbor.code,
      await sha256.digest(manifestBytes),
    );
    const { writer, out } = CarWriter.create(heads);
    const total = manifest.blocks;
    let done = 0;
    const producer = (async () => {
      try {
        await writer.put({ cid: manifestCid, bytes: manifestBytes });
        if (snapshot) {
          await writer.put(snapshot);
          options.onProgress?.({ phase: "export", done: ++done, total });
        }
        for (const cid of commits) {
          const bytes = await storage.getCommit(name, cid);
          if (!bytes)
            throw new CorruptError(
              `ledger ${name}`,
              `commit ${cid.toString()} is listed but not held`,
            );
          // Read back from storage: checked against its CID before it leaves.
          checkCommit(cid, bytes);
          await writer.put({ cid, bytes });
          options.onProgress?.({ phase: "export", done: ++done, total });
        }
      } finally {
        await writer.close();
      }
    })();
    // A failure ends `out` (close() above) and is thrown here, after it.
    const failed = producer.then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    for await (const chunk of out) yield chunk;
    const result = await failed;
    if (result) throw result.error;
  })();
}
