// Field types shared by the protocol messages. CIDs travel as CBOR byte strings holding the
// binary CID; a commit travels as a two-element array [cid, bytes].
import { CID } from "multiformats/cid";
import * as z from "zod";

/** A binary CID, decoded to a CID on the way in. */
export const cidField = z.instanceof(Uint8Array).transform((bytes, ctx) => {
  try {
    const cid = CID.decode(bytes);
    if (cid.version !== 1) throw new Error("not CIDv1");
    return cid;
  } catch {
    ctx.addIssue({ code: "custom", message: "not a binary CIDv1" });
    return z.NEVER;
  }
});

/** At most this many CIDs in one list (heads, have). */
export const MAX_CID_LIST = 4096;

export const cidList = z.array(cidField).max(MAX_CID_LIST);

/**
 * A server's head set: as many as the ledger has (many offline writers make many heads),
 * bounded only by the message size.
 */
export const headList = z.array(cidField);

/** A ledger name: 1–512 UTF-16 code units, any characters. */
export const ledgerField = z.string().min(1).max(512);

/** A request id, chosen by the client and echoed in every reply to that request. */
export const requestId = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const bytesField = z.custom<Uint8Array>(
  (value) => value instanceof Uint8Array,
  { message: "expected a byte string" },
);

/** A commit on the wire: [binary CID, envelope bytes]. */
export const commitField = z.tuple([cidField, bytesField]);

export interface WireCommit {
  cid: CID;
  bytes: Uint8Array;
}
