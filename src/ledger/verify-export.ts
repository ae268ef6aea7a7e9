// verifyExport (`kiln verify <file.car>`): checks a ledger export (export-ledger.ts) as it
// streams past — the manifest, every block's bytes against its CID, every commit's envelope,
// parents and signature, the snapshot, and that the CAR's roots (the heads) are among its
// commits; with the key, every commit decrypted too. Nothing is stored.
import { CarBlockIterator } from "@ipld/car/iterator";
import type { CID } from "multiformats/cid";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { SigningProvider } from "../trust/signing.js";
import { KilnError } from "../util/errors.js";
import { readManifest } from "./import-ledger.js";
import type { VerifyReport } from "./verify-commits.js";
import { createVerifier } from "./verify-ledger.js";

/** Options of verifyExport(): the ledger key, optionally. */
export interface VerifyExportOptions {
  /** The ledger key (base64url): every commit is then decrypted and parsed too. */
  key?: string;
  crypto?: CryptoProvider;
  signing?: SigningProvider;
}

/** What verifyExport() found: as verifyLedger(), plus the ledger the export names. */
export interface VerifyExportReport extends VerifyReport {
  /** The ledger name in the manifest (undefined when the manifest is unreadable). */
  ledger: string | undefined;
  /** Whether the export holds a snapshot (checked like a commit, and against its heads). */
  snapshot: boolean;
  /**
   * Set when the file itself fails: not a readable CAR (its header, a block's length or
   * CID), no manifest first, or its snapshot missing. Blocks past an unreadable point are
   * not checked.
   */
  unreadable?: string;
}

/**
 * Checks a CAR export without storing it. Every commit's failure names the commit; a file
 * that is not a readable export says so in `unreadable`.
 */
export async function verifyExport(
  source: AsyncIterable<Uint8Array>,
  options: VerifyExportOptions = {},
): Promise<VerifyExportReport> {
  const verifier = createVerifier(options);
  let ledger: string | undefined;
  let snapshot = false;
  let unreadable: string | undefined;
  let roots: CID[] = [];
  try {
    const car = await CarBlockIterator.fromIterable(source);
    roots = await car.getRoots();
    let manifest;
    for await (const block of car) {
      if (!manifest) {
        manifest = await readManifest(block.cid, block.bytes);
        ledger = manifest.ledger;
      } else if (manifest.snapshot?.equals(block.cid)) {
        snapshot = true;
        await verifier.addSnapshot(block.cid, block.bytes);
      } else await verifier.add(block.cid, block.bytes);
    }
    if (!manifest) unreadable = "holds no blocks";
    else if (manifest.snapshot && !snapshot)
      unreadable = "its snapshot block is missing";
  } catch (error) {
    // The CAR itself or the manifest is unreadable: what follows cannot be found.
    unreadable =
      error instanceof KilnError
        ? error.message
        : `not a readable CAR: ${error instanceof Error ? error.message : String(error)}`;
  }
  return {
    ...(await verifier.finish(roots, snapshot)),
    ledger,
    snapshot,
    ...(unreadable !== undefined ? { unreadable } : {}),
  };
}
