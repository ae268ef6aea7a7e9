// How commits map to columns, and the integrity check every byte string passes on its way in
// and out (the server checked on the way in already; the backend checks again because it is
// the last line before storage, and on the way out because storage can be damaged).
import { createHash } from "node:crypto";
import { CID } from "../../../blocks/cid.js";
import { concat } from "../../../util/bytes.js";
import { CorruptError } from "../../../util/errors.js";

const SHA2_256 = 0x12;

/** Whether `bytes` hash to `cid` (sha2-256 CIDs only; any other hash does not match). */
export function matchesCid(cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code !== SHA2_256) return false;
  const digest = createHash("sha256").update(bytes).digest();
  return Buffer.compare(digest, cid.multihash.digest) === 0;
}

/** The parents column: the parents' binary CIDs, concatenated. */
export function encodeParents(parents: readonly CID[]): Uint8Array {
  return concat(parents.map((p) => p.bytes));
}

export function decodeParents(column: Uint8Array, subject: string): CID[] {
  const parents: CID[] = [];
  // A copy: the driver's Buffer may be a view into a shared pool, and the CIDs keep views.
  let rest: Uint8Array = new Uint8Array(column);
  try {
    while (rest.length > 0) {
      const [cid, remainder] = CID.decodeFirst(rest);
      parents.push(cid);
      rest = remainder;
    }
  } catch (cause) {
    throw new CorruptError(subject, "unreadable parents column", { cause });
  }
  return parents;
}

export function decodeCidColumn(column: Uint8Array, subject: string): CID {
  try {
    // A copy: the driver's Buffer may be a view into a shared pool.
    return CID.decode(new Uint8Array(column));
  } catch (cause) {
    throw new CorruptError(subject, "unreadable cid column", { cause });
  }
}
