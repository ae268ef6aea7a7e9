// upload (client → server) and uploads (server → client): direct uploads, an optional addition
// to version 1. A client whose server's welcome carried `uploadMin` may ask for presigned PUT
// URLs for its large commits, PUT their bytes straight to the server's object store, and then
// name them in push.uploaded instead of carrying their bytes. A client never sends `upload`
// to a server that did not offer it, and a server sends `uploads` only to answer `upload`, so
// peers that predate them never see either (docs/protocol.md, "Direct uploads").
import * as z from "zod/mini";
import { cidList, ledgerField, MAX_CID_LIST, requestId } from "./fields.js";

export const upload = z
  .object({
    t: z.literal("upload"),
    id: requestId,
    ledger: ledgerField,
    /** The commits to upload, by CID. */
    cids: cidList.check(z.minLength(1)),
    /** Each commit's size in bytes, in the order of `cids`. */
    sizes: z
      .array(z.int().check(z.minimum(1), z.maximum(Number.MAX_SAFE_INTEGER)))
      .check(z.maxLength(MAX_CID_LIST)),
  })
  .check(
    z.refine((m) => m.sizes.length === m.cids.length, {
      message: "sizes must give one size per CID",
      path: ["sizes"],
    }),
  );
export type Upload = z.output<typeof upload>;

/** Longest presigned URL accepted, in UTF-16 code units. */
export const MAX_UPLOAD_URL = 16_384;

export const uploads = z.object({
  t: z.literal("uploads"),
  id: requestId,
  ledger: ledgerField,
  /**
   * One per CID of the upload, in its order: the URL to PUT that commit's bytes to, or the
   * empty text when the server holds the commit already (nothing to upload).
   */
  urls: z
    .array(z.string().check(z.maxLength(MAX_UPLOAD_URL)))
    .check(z.maxLength(MAX_CID_LIST)),
});
export type Uploads = z.output<typeof uploads>;
