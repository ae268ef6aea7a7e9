// Reading commits back into events: a commit opened (verified, decrypted, parsed), and the
// commits between the known clock and some heads. Used on reopen (the tail after the
// checkpoint) and for commits that arrived from elsewhere.
import type { CID } from "multiformats/cid";
import { cidFor, cidString } from "../blocks/cid.js";
import { decodeValue } from "../blocks/codec.js";
import { openBytes } from "../blocks/commit.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { Clock } from "../crdt/clock.js";
import { fromEventValue } from "../crdt/event.js";
import type { MergeEvent, Op } from "../crdt/merge.js";
import { opFields } from "../crdt/merge.js";

/** A commit verified, decrypted and parsed. */
export interface OpenedCommit {
  event: MergeEvent;
  /** The parents as CID objects (the event holds their strings). */
  parents: CID[];
  /** The encoded doc each put wrote, by id (views into the plaintext). */
  docs: Map<string, Uint8Array>;
  /** The writer's public key. */
  writer: Uint8Array;
  /** The writer's signature and the message it signs (the unsigned envelope's CID). */
  signature: { readonly s: Uint8Array; readonly message: Uint8Array };
  /** The membership record the commit carries in the clear (envelope `m`), undecoded. */
  record?: Uint8Array;
}

/**
 * Opens a commit: IntegrityError, FormatVersionError, CorruptError, SignatureError (unsigned)
 * or DecryptError when it is not a sound v2 commit under `key`. The signature itself is
 * checked by the caller (Merger), in batches off the event loop.
 */
export async function openCommit(
  crypto: CryptoProvider,
  key: Uint8Array | ((keyId: Uint8Array | undefined) => Uint8Array),
  cid: CID,
  bytes: Uint8Array,
): Promise<OpenedCommit> {
  const name = cidString(cid);
  const { parents, plaintext, writer, signature, record } = await openBytes(
    crypto,
    key,
    cid,
    bytes,
  );
  const body = fromEventValue(
    decodeValue(plaintext, `commit ${name}`),
    `commit ${name}`,
  );
  const docs = new Map<string, Uint8Array>();
  const ops: Op[] = body.ops.map(([id, doc, fields]) => {
    if (!doc) return [id, null];
    docs.set(id, doc);
    const docCid = cidFor(crypto, doc);
    return fields ? [id, docCid, fields] : [id, docCid];
  });
  const fields = opFields(ops);
  return {
    event: {
      cid: name,
      parents: parents.map((p) => cidString(p)),
      height: body.h,
      ids: ops.map((o) => o[0]),
      ops,
      ...(fields ? { fields } : {}),
    },
    parents,
    docs,
    // openBytes refuses an unsigned commit.
    writer: writer!,
    signature: signature!,
    ...(record ? { record } : {}),
  };
}

export async function readNewEvents(
  open: (cid: CID) => Promise<OpenedCommit>,
  clock: Clock,
  heads: readonly CID[],
  /** Told of each commit opened, so its docs can be cached without a second decrypt. */
  onOpened?: (opened: OpenedCommit) => void,
): Promise<MergeEvent[]> {
  const found = new Map<string, MergeEvent>();
  const stack = [...heads];
  while (stack.length > 0) {
    const cid = stack.pop()!;
    const key = cidString(cid);
    if (found.has(key) || clock.has(key)) continue;
    const opened = await open(cid);
    onOpened?.(opened);
    const { event } = opened;
    found.set(key, event);
    opened.parents.forEach((p, i) => {
      const name = event.parents[i]!;
      if (!clock.has(name) && !found.has(name)) stack.push(p);
    });
  }
  return [...found.values()];
}
