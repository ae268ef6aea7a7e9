// The embedded backend's snapshot of a ledger: one file beside its log, replaced atomically,
// holding the snapshot as one dag-cbor map { cid, heads, height, bytes }. Read back, the
// bytes are checked against the CID: a damaged file is an IntegrityError, never served.
import * as dagCbor from "@ipld/dag-cbor";
import { createHash } from "node:crypto";
import { CID } from "../../blocks/cid.js";
import { equalBytes } from "../../util/bytes.js";
import { CorruptError, IntegrityError } from "../../util/errors.js";
import {
  readFileIfExists,
  replaceFileAtomic,
} from "../../util/sync-file-io.js";
import type { StoredSnapshot } from "../backend.js";

const FILE_MODE = 0o600;

export function writeSnapshotFile(
  file: string,
  snapshot: StoredSnapshot,
): void {
  replaceFileAtomic(
    file,
    dagCbor.encode({
      cid: snapshot.cid,
      heads: [...snapshot.heads],
      height: snapshot.height,
      bytes: snapshot.bytes,
    }),
    FILE_MODE,
  );
}

export function readSnapshotFile(file: string): StoredSnapshot | undefined {
  const raw = readFileIfExists(file);
  if (!raw) return undefined;
  let value: unknown;
  try {
    value = dagCbor.decode(raw);
  } catch (cause) {
    throw new CorruptError(`snapshot file ${file}`, "not valid dag-cbor", {
      cause,
    });
  }
  const v = value as Record<string, unknown> | null;
  const cid = CID.asCID(v?.cid);
  const heads = Array.isArray(v?.heads) ? v.heads.map((h) => CID.asCID(h)) : [];
  if (
    !cid ||
    !(v?.bytes instanceof Uint8Array) ||
    !Number.isSafeInteger(v.height) ||
    heads.some((h) => h === null)
  )
    throw new CorruptError(`snapshot file ${file}`, "unknown shape");
  const digest = createHash("sha256").update(v.bytes).digest();
  if (cid.multihash.code !== 0x12 || !equalBytes(digest, cid.multihash.digest))
    throw new IntegrityError(
      cid.toString(),
      "the snapshot file's bytes do not match their cid",
    );
  return {
    cid,
    bytes: v.bytes,
    heads: heads as CID[],
    height: v.height as number,
  };
}
