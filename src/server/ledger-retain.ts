// History the server lets go: a write-token holder publishes a snapshot with retain
// "snapshot", and the server drops the bytes of the commits it covers — every commit
// reachable from the snapshot's heads, heads included — except commits that carry a
// membership record (the envelope's clear-text `m`), which every replica needs to check who
// may write. A dropped commit stays known as a husk (Backend.dropCommits): its parents and
// height still serve parent checks and catch-up walks, and a pull that would need its
// bytes starts from the snapshot instead (ledger-reads.ts). docs/protocol.md, "Retention".
import type { CID } from "multiformats/cid";
import { cidKey } from "../blocks/cid.js";
import { carriesMembership } from "../sync/protocol/index.js";
import type { Backend, StoredSnapshot } from "./backend.js";
import { missingCommitsFrom } from "./missing.js";

/** Commits read (to find membership records) and dropped per backend call. */
const DROP_CHUNK = 256;

/**
 * Drops every commit reachable from `heads` whose bytes are still held, except membership
 * commits; returns how many it dropped. The walk goes down one height level per getMeta call
 * and stops at commits already dropped (what lies below them was dropped with them, or is a
 * membership commit kept on purpose), so a second retain costs only what is new since the
 * first.
 */
export async function dropCovered(
  backend: Backend,
  ledger: string,
  heads: readonly CID[],
): Promise<number> {
  const covered: CID[] = [];
  const seen = new Set<string>(heads.map(cidKey));
  let level = [...heads];
  while (level.length > 0) {
    const metas = await backend.getMeta(ledger, level);
    const next: CID[] = [];
    level.forEach((cid, i) => {
      const meta = metas[i];
      if (!meta || meta.dropped) return;
      covered.push(cid);
      for (const p of meta.parents) {
        const key = cidKey(p);
        if (seen.has(key)) continue;
        seen.add(key);
        next.push(p);
      }
    });
    level = next;
  }
  let dropped = 0;
  for (let at = 0; at < covered.length; at += DROP_CHUNK) {
    const chunk = covered.slice(at, at + DROP_CHUNK);
    const bytes = await backend.getCommits(ledger, chunk);
    const drop = chunk.filter((_, i) => {
      const b = bytes[i];
      return b !== undefined && !carriesMembership(b);
    });
    dropped += await backend.dropCommits(ledger, drop);
  }
  return dropped;
}

/**
 * Whether a snapshot at `heads` may replace `held`: always, unless `held` covers dropped
 * history (one of its heads was dropped) that `heads` do not reach — clients that lack that
 * history start from the kept snapshot, so it must keep covering it.
 */
export async function coversDropped(
  backend: Backend,
  ledger: string,
  held: StoredSnapshot,
  heads: readonly CID[],
): Promise<boolean> {
  const metas = await backend.getMeta(ledger, held.heads);
  if (!metas.some((m) => m?.dropped)) return true;
  const { cids } = await missingCommitsFrom(backend, ledger, held.heads, heads);
  return cids.length === 0;
}
