// The pure half of a write: checking and encoding docs, and sealing them into one commit on
// top of the current heads. Storing it and updating the state stay with the Ledger.
import type { CID } from "multiformats/cid";
import type { Block } from "../blocks/cid.js";
import { encodeDocValue } from "../blocks/cbor-writer.js";
import { cidFor } from "../blocks/cid.js";
import { sealBytes } from "../blocks/commit.js";
import type { CommitSigner, SealExtras } from "../blocks/commit.js";
import type { SealedCommit } from "../blocks/commit.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import { encodeEvent } from "../crdt/event.js";
import type { SealedOp } from "../crdt/event.js";
import { changedFields } from "../crdt/fields-merge.js";
import type { LedgerState, Op, PlannedWrite } from "../crdt/ledger-state.js";
import { InvalidDocError } from "../util/errors.js";
import type { DocBody } from "./block-source.js";
import type { DocInput } from "./doc.js";
import { MAX_DOC_BYTES, checkDocBody, checkId } from "./doc.js";

/** A doc checked and encoded; `body` null is a deletion. */
export interface PreparedDoc {
  id: string;
  body: DocBody | null;
  block: Block | undefined;
}

export function prepareDoc(
  doc: DocInput,
  newId: () => string,
  crypto: CryptoProvider,
): PreparedDoc {
  const given = (doc as { _id?: unknown } | null | undefined)?._id;
  const id = given === undefined ? newId() : checkId(given);
  const body = checkDocBody(doc, id);
  const bytes = encodeDocValue(body);
  if (bytes.length > MAX_DOC_BYTES)
    throw new InvalidDocError(
      "doc-too-large",
      `doc ${JSON.stringify(id.slice(0, 64))} is ${bytes.length} bytes encoded; the limit is ${MAX_DOC_BYTES}`,
      id,
    );
  return { id, body, block: { cid: cidFor(crypto, bytes), bytes } };
}

/**
 * Seals docs (the last write of an id wins) into one commit on the state's heads. `bases` are
 * the current bodies of the live docs being replaced: a put over one records the fields it
 * changed; a put over none carries the whole doc.
 */
export async function sealWrite(
  state: LedgerState,
  crypto: CryptoProvider,
  key: Uint8Array,
  docs: readonly PreparedDoc[],
  bases: ReadonlyMap<string, DocBody>,
  headCid: (head: string) => CID,
  signer: CommitSigner,
  extras: SealExtras = {},
): Promise<{
  byId: Map<string, PreparedDoc>;
  ops: Op[];
  planned: PlannedWrite;
  parents: CID[];
  sealed: SealedCommit;
}> {
  const byId = new Map<string, PreparedDoc>();
  for (const d of docs) {
    byId.delete(d.id);
    byId.set(d.id, d);
  }
  const ops: Op[] = [];
  const sealedOps: SealedOp[] = [];
  for (const d of byId.values()) {
    const base = d.body && bases.get(d.id);
    if (!d.block) {
      ops.push([d.id, null]);
      sealedOps.push([d.id, null]);
    } else if (!base) {
      ops.push([d.id, d.block.cid]);
      sealedOps.push([d.id, d.block.bytes]);
    } else {
      const fields = changedFields(base, d.body!);
      ops.push([d.id, d.block.cid, fields]);
      sealedOps.push([d.id, d.block.bytes, fields]);
    }
  }
  const planned = state.planWrite();
  const parents = planned.parents.map(headCid);
  const sealed = await sealBytes(
    crypto,
    key,
    parents,
    encodeEvent({ h: planned.height, ops: sealedOps }),
    signer,
    extras,
  );
  return { byId, ops, planned, parents, sealed };
}

/**
 * The delete checks of a group commit: a deletion needs a live doc, counting earlier writes
 * in the group. A write that fails is refused alone and whole (a bulk is all or nothing);
 * returns the accepted writes, in order, and each refused write with the id it lacked.
 */
export function checkDeletions<W extends { docs: readonly PreparedDoc[] }>(
  writes: readonly W[],
  isLive: (id: string) => boolean,
): { accepted: W[]; refused: [W, string][] } {
  if (!writes.some((w) => w.docs.some((d) => d.body === null)))
    return { accepted: [...writes], refused: [] };
  const live = new Map<string, boolean>();
  const accepted: W[] = [];
  const refused: [W, string][] = [];
  for (const w of writes) {
    const mine = new Map<string, boolean>();
    const missing = w.docs.find((d) => {
      const was = mine.get(d.id) ?? live.get(d.id) ?? isLive(d.id);
      mine.set(d.id, d.body !== null);
      return d.body === null && !was;
    });
    if (missing) refused.push([w, missing.id]);
    else {
      for (const [id, v] of mine) live.set(id, v);
      accepted.push(w);
    }
  }
  return { accepted, refused };
}
