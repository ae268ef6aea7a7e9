// The write path of the SyncServer for commits: a push is verified completely, then stored in
// one backend call, and answered with an ack that names only what it pushed (O(push), never
// O(heads)).
import type { CID } from "multiformats/cid";
import { cidKey } from "../blocks/cid.js";
import { checkCommit, ProtocolError } from "../sync/protocol/index.js";
import type { Ack, Push } from "../sync/protocol/index.js";
import type { Backend, StoredCommit } from "./backend.js";
import { readUploaded } from "./direct-uploads.js";
import type { PushRate } from "./push-rate.js";
import type { PushGate } from "../trust/push-gate.js";
import { MembershipError } from "../util/errors.js";

export interface PushLimits {
  readonly maxMessage: number;
  readonly maxCommits: number;
  readonly pushRate: PushRate;
  /** Commit bytes the ledger may hold (Backend.putCommits checks it); undefined: none. */
  readonly ledgerQuota: number | undefined;
}

/**
 * Verifies a push completely — count, every commit against its CID and envelope (uploaded
 * ones read back from the store first), every parent held or earlier in the batch, the
 * named heads held afterwards — then stores it. Nothing is stored when any check fails.
 * `uploaded` counts the commits whose bytes came from direct uploads.
 */
export async function storePush(
  backend: Backend,
  limits: PushLimits,
  push: Push,
  origin: unknown,
  gate: PushGate,
): Promise<{ ack: Ack; uploaded: number }> {
  const { ledger } = push;
  const count = push.commits.length + (push.uploaded?.length ?? 0);
  if (count > limits.maxCommits)
    throw new ProtocolError(
      "too-large",
      `push of ${count} commits exceeds the limit of ${limits.maxCommits}`,
    );
  const batch = new Map<string, StoredCommit>();
  const add = (commit: StoredCommit) => {
    const key = cidKey(commit.cid);
    if (!batch.has(key)) batch.set(key, commit);
  };
  // Uploaded commits come first: parents before children, all before `commits`.
  const uploaded =
    push.uploaded && push.uploaded.length > 0
      ? await readUploaded(backend, ledger, push.uploaded, limits.maxMessage)
      : [];
  for (const commit of uploaded) add(commit);
  for (const [cid, bytes] of push.commits)
    if (!batch.has(cidKey(cid)))
      add({ cid, bytes, parents: checkCommit(cid, bytes) });
  // Parents held by the server are checked by the backend itself, atomically with the
  // store (every backend must, the conformance suite checks it): a check here first would
  // cost every push one more read of the backend, and could not close the race anyway.
  let bytes = 0;
  for (const commit of batch.values()) bytes += commit.bytes.length;
  if (bytes > 0) limits.pushRate.take(ledger, bytes);
  const heads = (push.heads ?? []).filter((h) => !batch.has(cidKey(h)));
  const headMeta = await backend.getMeta(ledger, heads);
  const unknownHead = headMeta.findIndex((m) => m === undefined);
  if (unknownHead >= 0)
    throw new ProtocolError(
      "missing-commit",
      `head ${heads[unknownHead]!.toString()} is neither held by the server nor in the push`,
    );
  // Membership (a membered ledger: every commit signed by a member at its parents), checked
  // blind, before anything is stored.
  if (batch.size > 0) {
    try {
      await gate.check(
        {
          getHeads: () => backend.getHeads(ledger),
          getMeta: (cids) => backend.getMeta(ledger, cids),
          getCommits: (cids) => backend.getCommits(ledger, cids),
        },
        [...batch.values()],
      );
    } catch (error) {
      if (error instanceof MembershipError)
        throw new ProtocolError("not-member", error.message, { cause: error });
      throw error;
    }
  }
  // A push of no commits only asks whether the server holds its heads.
  let stored;
  try {
    stored =
      batch.size === 0
        ? { heads: await backend.getHeads(ledger), added: [] }
        : await backend.putCommits(
            ledger,
            [...batch.values()],
            origin,
            limits.ledgerQuota,
          );
  } catch (error) {
    // The gate counted the batch: it reads the store again next time.
    gate.reset();
    throw error;
  }
  // The ack names only the commits of this push that are server heads now: O(push).
  const serverHeads = new Set(stored.heads.map(cidKey));
  const named = new Map<string, CID>();
  for (const { cid } of batch.values()) named.set(cidKey(cid), cid);
  for (const cid of push.heads ?? []) named.set(cidKey(cid), cid);
  const ackHeads = [...named]
    .filter(([key]) => serverHeads.has(key))
    .map(([, cid]) => cid);
  return {
    ack: {
      t: "ack",
      id: push.id,
      ledger,
      heads: ackHeads,
      stored: stored.added.length,
    },
    uploaded: uploaded.length,
  };
}
