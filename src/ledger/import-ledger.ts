// importLedger: the inverse of exportLedger, into a storage that holds nothing of the ledger.
// Every block is checked against its CID (and every commit parsed as an envelope) before it
// is stored; the snapshot becomes the ledger's checkpoint and the CAR's roots its heads. The
// key is not needed; given, the imported ledger is opened once to prove it decrypts and
// replays. A failure removes what the import stored, so the storage is left as it was.
import { CarBlockIterator } from "@ipld/car/iterator";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { cidString } from "../blocks/cid.js";
import { decodeLedgerKey } from "../blocks/ledger-key.js";
import type { Gateway, LocalStorage } from "../gateways/gateway.js";
import type { Registry } from "../gateways/registry.js";
import { checkCommit, ProtocolError } from "../sync/protocol/index.js";
import { equalBytes } from "../util/bytes.js";
import {
  CorruptError,
  IntegrityError,
  InvalidArgumentError,
  InvalidUrlError,
  KilnError,
} from "../util/errors.js";
import type { OnProgress } from "../util/progress.js";
import { MANIFEST_KIND } from "./export-ledger.js";
import type { ExportManifest } from "./export-ledger.js";
import { joinSealed } from "./ledger-snapshots.js";
import { openLedgerOn } from "./open-ledger.js";
import type { Platform } from "./platform.js";

/** Options of importLedger(). */
export interface ImportOptions {
  /** Where to import to, as for openLedger (default file://./.kiln). */
  storage?: string;
  registry?: Registry;
  /** The ledger key: stored with the ledger, and used to check the import opens. */
  key?: string;
  /** Told after each block: phase "import", done/total in blocks. */
  onProgress?: OnProgress;
}

/** What importLedger() stored. */
export interface ImportResult {
  heads: string[];
  commits: number;
  /** The snapshot's CID, when the export had one. */
  snapshot: string | undefined;
}

/** importLedger on a given platform; each entry point exports it bound to its own. */
export async function importLedgerOn(
  platform: Platform,
  name: string,
  source: AsyncIterable<Uint8Array>,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const registry = options.registry ?? platform.createRegistry();
  const url = options.storage ?? platform.defaultStorage();
  const key = options.key;
  if (key !== undefined) decodeLedgerKey(key); // a malformed key fails before any I/O
  const gateway = await registry.open(url);
  let result: ImportResult;
  try {
    if (!gateway.local)
      throw new InvalidUrlError(
        url,
        "importLedger needs a ledger's own storage",
      );
    const storage = gateway as Gateway & { local: LocalStorage };
    await requireEmpty(storage, name);
    // An empty ledger may still hold a key from an earlier open; the imported one replaces it.
    if (key !== undefined) await storage.local.destroy(name);
    try {
      result = await store(storage, name, source, options.onProgress);
      if (key !== undefined && (await storage.local.putKey(name, key)) !== key)
        throw new InvalidArgumentError(
          `importLedger: ledger ${JSON.stringify(name)} got a different key while importing; import into an empty one`,
        );
    } catch (error) {
      await storage.local.destroy(name);
      throw error;
    }
  } finally {
    await gateway.close();
  }
  if (key !== undefined) {
    // Proves the key opens it: the checkpoint decrypts and the commits after it replay.
    try {
      const ledger = await openLedgerOn(platform, name, {
        storage: url,
        registry,
        key,
      });
      await ledger.close();
    } catch (error) {
      const again = await registry.open(url);
      try {
        await again.local?.destroy(name);
      } finally {
        await again.close();
      }
      throw error;
    }
  }
  return result;
}

async function requireEmpty(
  storage: Gateway & { local: LocalStorage },
  name: string,
): Promise<void> {
  const [heads, commits, checkpoint] = await Promise.all([
    storage.getHeads(name),
    storage.local.listCommits(name),
    storage.local.getCheckpoint(name),
  ]);
  if (heads.length > 0 || commits.length > 0 || checkpoint !== undefined)
    throw new InvalidArgumentError(
      `importLedger: ledger ${JSON.stringify(name)} already holds data in this storage; import into an empty one`,
    );
}

async function store(
  storage: Gateway & { local: LocalStorage },
  name: string,
  source: AsyncIterable<Uint8Array>,
  onProgress: OnProgress | undefined,
): Promise<ImportResult> {
  let car: CarBlockIterator;
  try {
    car = await CarBlockIterator.fromIterable(source);
  } catch (cause) {
    throw new CorruptError("ledger export", "not a CARv1 stream", { cause });
  }
  const roots = await car.getRoots();
  let manifest: ExportManifest | undefined;
  let snapshot: { cid: CID; bytes: Uint8Array } | undefined;
  const stored = new Set<string>();
  let done = 0;
  try {
    for await (const block of car) {
      if (!manifest) {
        manifest = await readManifest(block.cid, block.bytes);
        continue;
      }
      // Hash and envelope checks, whatever the block is.
      checkCommit(block.cid, block.bytes);
      if (manifest.snapshot?.equals(block.cid))
        snapshot = { cid: block.cid, bytes: block.bytes };
      else {
        await storage.putCommit(name, block.cid, block.bytes);
        stored.add(cidString(block.cid));
      }
      onProgress?.({ phase: "import", done: ++done, total: manifest.blocks });
    }
  } catch (error) {
    throw asImportError(error);
  }
  if (!manifest) throw new CorruptError("ledger export", "holds no blocks");
  if (manifest.snapshot && !snapshot)
    throw new CorruptError("ledger export", "its snapshot block is missing");
  const missing = roots.find((r) => !stored.has(cidString(r)));
  if (missing)
    throw new CorruptError(
      "ledger export",
      `root ${missing.toString()} is not one of its commits`,
    );
  if (snapshot) await storage.local.putCheckpoint(name, joinSealed(snapshot));
  await storage.putHeads(name, { add: roots, remove: [] });
  return {
    heads: roots.map(cidString).sort(),
    commits: stored.size,
    snapshot: snapshot && cidString(snapshot.cid),
  };
}

/** Checks an export's first block: its bytes against its CID, and that it is a manifest (v1). */
export async function readManifest(
  cid: CID,
  bytes: Uint8Array,
): Promise<ExportManifest> {
  const digest = await sha256.digest(bytes);
  if (
    cid.code !== dagCbor.code ||
    cid.multihash.code !== sha256.code ||
    !equalBytes(digest.digest, cid.multihash.digest)
  )
    throw new IntegrityError(cid.toString(), "manifest bytes do not match");
  let value: Partial<ExportManifest> | null;
  try {
    value = dagCbor.decode<Partial<ExportManifest> | null>(bytes);
  } catch (cause) {
    throw new CorruptError("ledger export", "manifest is not dag-cbor", {
      cause,
    });
  }
  if (
    value?.kiln !== MANIFEST_KIND ||
    value.v !== 1 ||
    !Number.isSafeInteger(value.blocks) ||
    (value.snapshot !== null && CID.asCID(value.snapshot) === null)
  )
    throw new CorruptError(
      "ledger export",
      "the first block is not a kiln ledger manifest (v1)",
    );
  return value as ExportManifest;
}

/** Checks of a block become typed errors; what the CAR decoder throws is corruption. */
function asImportError(error: unknown): Error {
  if (error instanceof ProtocolError)
    return error.reason === "cid-mismatch"
      ? new IntegrityError("ledger export block", error.message)
      : new CorruptError("ledger export", error.message, { cause: error });
  if (error instanceof KilnError) return error;
  return new CorruptError(
    "ledger export",
    error instanceof Error ? error.message : String(error),
    { cause: error },
  );
}
