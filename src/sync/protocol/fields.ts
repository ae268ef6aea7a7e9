// Field types shared by the protocol messages. CIDs travel as CBOR byte strings holding the
// binary CID; a commit travels as a two-element array [cid, bytes].
import { CID } from "multiformats/cid";
import * as z from "zod/mini";
import { ledgerNameProblem, MAX_LEDGER_NAME } from "../../util/ledger-name.js";

/** A binary CID, decoded to a CID on the way in. */
const toCid = z.transform<Uint8Array<ArrayBuffer>, CID>((bytes, ctx) => {
  try {
    const cid = CID.decode(bytes);
    if (cid.version !== 1) throw new Error("not CIDv1");
    return cid;
  } catch {
    ctx.issues.push({
      code: "custom",
      message: "not a binary CIDv1",
      input: bytes,
    });
    return z.NEVER;
  }
});
const bytesIn = z.instanceof(Uint8Array);
export const cidField = z.pipe<typeof bytesIn, typeof toCid>(bytesIn, toCid);

/** At most this many CIDs in one list (heads, have). */
export const MAX_CID_LIST = 4096;

export const cidList = z.array(cidField).check(z.maxLength(MAX_CID_LIST));

/**
 * Most heads a ledger may have on a server (version 2). A push that would leave more is
 * refused as `too-many-heads`, so every head set on the wire fits one bounded list.
 */
export const MAX_HEADS = 4096;

/** A server's head set (or a part of it): at most MAX_HEADS CIDs. */
export const headList = z.array(cidField).check(z.maxLength(MAX_HEADS));

/**
 * A ledger name: 1–512 UTF-16 code units of well-formed Unicode, without U+FFFD, and not
 * "*" (util/ledger-name.ts has the rule and why).
 */
export const ledgerField = z.string().check(
  z.minLength(1),
  z.maxLength(MAX_LEDGER_NAME),
  z.superRefine((name: string, ctx) => {
    const problem = ledgerNameProblem(name);
    if (problem !== undefined)
      ctx.addIssue({ code: "custom", message: problem });
  }),
);

/** A request id, chosen by the client and echoed in every reply to that request. */
export const requestId = z
  .int()
  .check(z.minimum(0), z.maximum(Number.MAX_SAFE_INTEGER));

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
