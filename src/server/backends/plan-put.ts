// The rule every backend applies to a putCommits batch, as a pure function over what the
// backend holds: all or nothing, parents before children, held commits skipped, heights
// computed, and the head set moved forward. Backends differ only in how they keep the result.
import { cidKey, type CID } from "../../blocks/cid.js";
import { ProtocolError } from "../../sync/protocol/error.js";
import { MAX_HEADS } from "../../sync/protocol/fields.js";
import type { StoredCommit } from "../backend.js";

export interface PlannedCommit {
  /** cidKey() of the commit's CID. */
  readonly key: string;
  readonly commit: StoredCommit;
  readonly parentKeys: readonly string[];
  readonly height: number;
}

export interface PutPlan {
  /** Commits new to the backend, in the order given (parents before children). */
  readonly added: readonly PlannedCommit[];
  /** The head set after the batch, by cidKey; the same map when nothing is added. */
  readonly heads: ReadonlyMap<string, CID>;
  /** Bytes of the added commits: what the ledger's stored bytes grow by. */
  readonly bytes: number;
}

/** A ledger's storage quota as a put plans against it (Backend.putCommits, `quota`). */
export interface PutQuota {
  /** Bytes of commits the ledger holds now. */
  readonly held: number;
  /** The most it may hold; undefined: no quota. */
  readonly max: number | undefined;
}

/**
 * Plans a batch against the commits a backend holds (`heightOf` answers for held ones).
 * Throws ProtocolError("missing-commit") naming the first parent that is neither held nor
 * earlier in the batch, and ProtocolError("too-many-heads") when the batch would leave the
 * ledger more than MAX_HEADS heads and more than it had (a ledger over the bound from before
 * it existed may still shrink), and ProtocolError("over-quota") when the added commits would
 * take the ledger's bytes past `quota.max`; nothing is planned then, so the caller stores
 * nothing.
 */
export function planPut(
  ledger: string,
  commits: readonly StoredCommit[],
  heightOf: (key: string) => number | undefined,
  heads: ReadonlyMap<string, CID>,
  quota: PutQuota = { held: 0, max: undefined },
): PutPlan {
  const added: PlannedCommit[] = [];
  const batch = new Map<string, number>();
  for (const commit of commits) {
    const key = cidKey(commit.cid);
    if (heightOf(key) !== undefined || batch.has(key)) continue;
    let height = 1;
    const parentKeys = commit.parents.map((parent) => {
      const parentKey = cidKey(parent);
      const parentHeight = heightOf(parentKey) ?? batch.get(parentKey);
      if (parentHeight === undefined)
        throw new ProtocolError(
          "missing-commit",
          `put commits of ledger ${JSON.stringify(ledger.slice(0, 64))}: parent ${parent.toString()} of ${commit.cid.toString()} is neither held nor earlier in the batch`,
        );
      height = Math.max(height, parentHeight + 1);
      return parentKey;
    });
    batch.set(key, height);
    added.push({ key, commit, parentKeys, height });
  }
  if (added.length === 0) return { added, heads, bytes: 0 };
  let bytes = 0;
  for (const { commit } of added) bytes += commit.bytes.length;
  if (quota.max !== undefined && quota.held + bytes > quota.max)
    throw new ProtocolError(
      "over-quota",
      `put commits of ledger ${JSON.stringify(ledger.slice(0, 64))}: ${bytes} new bytes would take it to ${quota.held + bytes}, over its quota of ${quota.max} bytes; nothing was stored`,
    );
  const next = new Map(heads);
  for (const { key, commit, parentKeys } of added) {
    // A new commit's parents stop being heads; nothing held can name a new commit as a
    // parent (it would have needed it first), so every new commit starts as a head.
    for (const parentKey of parentKeys) next.delete(parentKey);
    next.set(key, commit.cid);
  }
  if (next.size > MAX_HEADS && next.size > heads.size)
    throw new ProtocolError(
      "too-many-heads",
      `put commits of ledger ${JSON.stringify(ledger.slice(0, 64))}: the head set would grow to ${next.size}, over the limit of ${MAX_HEADS}; merge heads before adding more`,
    );
  return { added, heads: next, bytes };
}

/** A head set as the Backend returns it: sorted by CID string. */
export function sortedHeads(heads: ReadonlyMap<string, CID>): CID[] {
  return [...heads.values()]
    .map((cid) => ({ cid, text: cid.toString() }))
    .sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))
    .map(({ cid }) => cid);
}
