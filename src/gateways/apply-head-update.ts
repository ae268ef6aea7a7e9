// The head-set rule every gateway shares, kept pure so the memory and file gateways (and
// third-party ones) cannot drift apart on it.
import type { CID } from "../blocks/cid.js";
import { cidString } from "../blocks/cid.js";
import type { HeadSet, HeadUpdate } from "./gateway.js";

/**
 * `next = (current \ remove) ∪ add`, sorted by CID string so the result does not depend on
 * the order of either list. Returns undefined when the set does not change, so callers can
 * skip writing it. Checking that every added CID is held is the caller's duty.
 */
export function applyHeadUpdate(
  current: HeadSet,
  update: HeadUpdate,
): HeadSet | undefined {
  const next = new Map<string, CID>();
  for (const cid of current) next.set(cidString(cid), cid);
  for (const cid of update.remove) next.delete(cidString(cid));
  for (const cid of update.add) next.set(cidString(cid), cid);
  const keys = [...next.keys()].sort(compareStrings);
  if (
    keys.length === current.length &&
    keys.every(
      (k, i) => current[i] !== undefined && k === cidString(current[i]),
    )
  )
    return undefined;
  return Object.freeze(keys.map((k) => next.get(k)!));
}

/** Sorts CIDs by their string form, the order a HeadSet is kept in. */
export function sortHeads(cids: Iterable<CID>): HeadSet {
  const byKey = new Map<string, CID>();
  for (const cid of cids) byKey.set(cidString(cid), cid);
  return Object.freeze(
    [...byKey.keys()].sort(compareStrings).map((k) => byKey.get(k)!),
  );
}

// Code-unit order, not localeCompare: the order must be the same on every replica.
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const EMPTY_HEADS: HeadSet = Object.freeze([]);
