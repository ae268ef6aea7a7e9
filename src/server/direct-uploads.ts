// The server's half of direct uploads (docs/protocol.md, "Direct uploads"): presigned URLs for
// an `upload` request, and reading back the commits a push names in `uploaded`. The bytes a
// client uploaded are trusted no more than pushed ones: each is read back from the store and
// goes through the same checks (CID, envelope, parents) before anything is recorded.
import type { CID } from "multiformats/cid";
import { cidKey } from "../blocks/cid.js";
import { checkCommit, ProtocolError } from "../sync/protocol/index.js";
import type { Upload, Uploads } from "../sync/protocol/index.js";
import type { Backend, DirectUploads, StoredCommit } from "./backend.js";

const DAG_CBOR = 0x71;
const SHA2_256 = 0x12;

/** The error for a request about direct uploads to a server that does not offer them. */
function notOffered(what: string): ProtocolError {
  // The same answer a server predating direct uploads gives to `upload`.
  return new ProtocolError(
    what === "upload" ? "unknown-type" : "bad-message",
    `this server offers no direct uploads (its welcome has no uploadMin): ${what === "upload" ? "push the commits' bytes instead" : "push.uploaded is not accepted"}`,
  );
}

export function offeredUploads(backend: Backend, what: string): DirectUploads {
  if (!backend.uploads) throw notOffered(what);
  return backend.uploads;
}

/**
 * Answers an `upload`: a presigned URL per commit, or "" for a commit the ledger already holds
 * (a URL for it would only let a client replace the bytes of a recorded commit in a store that
 * does not check checksums).
 */
export async function presignUploads(
  backend: Backend,
  message: Upload,
  limits: { maxMessage: number; maxCommits: number },
): Promise<Uploads> {
  const uploads = offeredUploads(backend, "upload");
  const { ledger, cids, sizes } = message;
  if (cids.length > limits.maxCommits)
    throw new ProtocolError(
      "too-large",
      `upload of ${cids.length} commits exceeds the limit of ${limits.maxCommits}`,
    );
  // As much as one push could carry: the client sizes its batches for that anyway, and a
  // push by reference then reads no more than a push of bytes would have brought.
  const total = sizes.reduce((sum, size) => sum + size, 0);
  if (total > limits.maxMessage)
    throw new ProtocolError(
      "too-large",
      `upload of ${total} bytes of commits exceeds the limit of ${limits.maxMessage}`,
    );
  const odd = cids.find(
    (cid) =>
      cid.code !== DAG_CBOR ||
      cid.multihash.code !== SHA2_256 ||
      cid.multihash.size !== 32,
  );
  if (odd)
    throw new ProtocolError(
      "cid-mismatch",
      `${odd.toString()} is not a dag-cbor sha2-256 CID`,
    );
  const meta = await backend.getMeta(ledger, cids);
  const wanted: { cid: CID; size: number; at: number }[] = [];
  cids.forEach((cid, at) => {
    if (meta[at] === undefined) wanted.push({ cid, size: sizes[at]!, at });
  });
  const signed = await uploads.presign(ledger, wanted);
  const urls = cids.map(() => "");
  wanted.forEach((w, i) => (urls[w.at] = signed[i]!));
  return { t: "uploads", id: message.id, ledger, urls };
}

/** Uploaded objects read at once while checking a push. */
const READ_CHUNK = 8;

/**
 * The commits of push.uploaded the ledger does not hold yet, read back from the store and
 * checked against their CIDs and envelopes, in the order given (held ones are skipped, as a
 * push skips them). Throws missing-commit for one that was never uploaded, cid-mismatch or
 * bad-commit for bytes that are not the commit, too-large when they add up to more than
 * `maxBytes` (what one push may carry: a push by reference costs the server no more memory).
 */
export async function readUploaded(
  backend: Backend,
  ledger: string,
  cids: readonly CID[],
  maxBytes: number,
): Promise<StoredCommit[]> {
  const uploads = offeredUploads(backend, "push.uploaded");
  const unique = new Map<string, CID>();
  for (const cid of cids) unique.set(cidKey(cid), cid);
  const asked = [...unique.values()];
  const meta = await backend.getMeta(ledger, asked);
  const absent = asked.filter((_, i) => meta[i] === undefined);
  if (absent.length === 0) return [];
  const bytes: (Uint8Array | undefined)[] = [];
  let total = 0;
  for (let at = 0; at < absent.length; at += READ_CHUNK) {
    const chunk = await uploads.read(
      ledger,
      absent.slice(at, at + READ_CHUNK),
      maxBytes - total,
    );
    for (const b of chunk) total += b?.length ?? 0;
    if (total > maxBytes)
      throw new ProtocolError(
        "too-large",
        `the commits uploaded for this push exceed the limit of ${maxBytes} bytes`,
      );
    bytes.push(...chunk);
  }
  return absent.map((cid, i) => {
    const b = bytes[i];
    if (b === undefined)
      throw new ProtocolError(
        "missing-commit",
        `commit ${cid.toString()} is named as uploaded, but the server neither holds it nor finds its upload`,
      );
    let parents: CID[];
    try {
      parents = checkCommit(cid, b);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      throw new ProtocolError(
        error.reason,
        `the bytes uploaded for commit ${cid.toString()} are not that commit (${error.message})`,
        { cause: error },
      );
    }
    return { cid, bytes: b, parents, uploaded: true };
  });
}
