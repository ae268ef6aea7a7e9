// publish (client → server) and snapshot (server → client). A snapshot is a ledger's merged
// state sealed like a commit — an envelope whose `parents` are the heads it covers, named by
// the CID of its bytes (docs/format.md, "Snapshots"). A client publishes one (answered by
// `ack`, whose `heads` are the heads the snapshot covers); a server sends its newest one
// first in the answer to a pull that asked with `snapshot: true` and named no commit it holds.
import * as z from "zod/mini";
import { commitField, ledgerField, requestId } from "./fields.js";

export const publish = z.object({
  t: z.literal("publish"),
  id: requestId,
  ledger: ledgerField,
  /** [binary CID, envelope bytes], as a commit travels. */
  snapshot: commitField,
  /**
   * "snapshot": once the server keeps this snapshot, it drops the bytes of the commits it
   * covers (never membership commits); clients that lack them start from the snapshot.
   */
  retain: z.optional(z.literal("snapshot")),
});
export type Publish = z.output<typeof publish>;

export const snapshot = z.object({
  t: z.literal("snapshot"),
  /** The pull's id. */
  id: requestId,
  ledger: ledgerField,
  snapshot: commitField,
});
export type Snapshot = z.output<typeof snapshot>;
