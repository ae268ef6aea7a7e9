// Any Gateway as a Remote: a memory room or a shared folder. There is no server to compute
// the difference, so catch-up walks the remote's commit graph from its heads down to
// commits the ledger already holds — one getCommit per missing commit, which is local I/O
// for these media (a network gateway should speak the SyncServer protocol instead).
import type { CID } from "multiformats/cid";
import { cidString } from "../blocks/cid.js";
import { decodeEnvelope } from "../blocks/envelope.js";
import type { Gateway } from "../gateways/gateway.js";
import { checkCommit } from "./protocol/index.js";
import type { Sha256 } from "./protocol/index.js";
import { TransportError } from "./transport-error.js";
import type { WireCommit } from "./protocol/index.js";
import type { LiveEvent, Remote, Transport } from "./remote.js";
import { createDeferred } from "../util/deferred.js";

/** Commits handed to the ledger at once during a walk. */
const BATCH = 1000;

export function createGatewayRemote(
  gateway: Gateway,
  ledger: string,
  transport: Transport,
  isKnown: (cid: string) => boolean,
  sha256: Sha256,
): Remote {
  const ended = createDeferred<Error>();
  let unwatch: (() => void) | undefined;
  let isClosed = false;
  const check = () => {
    if (isClosed)
      throw new TransportError(
        transport,
        `${gateway.url}: the session is closed`,
      );
  };
  const remote: Remote = {
    transport,
    limits: { maxMessage: Number.MAX_SAFE_INTEGER, maxCommits: BATCH },
    live: gateway.watch ? "push" : "poll",
    onLive: undefined,
    ended: ended.promise,

    async pull(have, onBatch, options = {}) {
      check();
      if (options.live && gateway.watch && !unwatch)
        unwatch = gateway.watch(ledger, (heads) => {
          const event: LiveEvent = { commits: [], heads };
          remote.onLive?.(event);
        });
      const haveKeys = new Set(have.map(cidString));
      const heads = await gateway.getHeads(ledger);
      const found = new Map<string, WireCommit & { parents: CID[] }>();
      const stack = heads.filter((h) => !haveKeys.has(cidString(h)));
      while (stack.length > 0) {
        const cid = stack.pop()!;
        const key = cidString(cid);
        if (found.has(key) || isKnown(key) || haveKeys.has(key)) continue;
        const bytes = await gateway.getCommit(ledger, cid);
        if (!bytes)
          // Over a folder synced by another tool a head may arrive before its commit:
          // not arrived yet, so the session retries after a backoff.
          throw new TransportError(
            transport,
            `${gateway.url} has heads reaching commit ${key} but does not hold it (yet)`,
          );
        const parents = checkCommit(cid, bytes, sha256);
        found.set(key, { cid, bytes, parents });
        for (const p of parents) stack.push(p);
      }
      const ordered = parentsFirst(found);
      for (let i = 0; i < ordered.length; i += BATCH)
        await onBatch(ordered.slice(i, i + BATCH), ordered.length);
      return heads;
    },

    async push(commits, heads) {
      check();
      for (const c of commits) await gateway.putCommit(ledger, c.cid, c.bytes);
      if (!heads) return gateway.getHeads(ledger);
      // Drop only the remote heads the pushed commits supersede: those this ledger has
      // merged, pushed, or are parents of what it pushed. A head another writer added
      // meanwhile is unknown here, so it stays.
      const current = await gateway.getHeads(ledger);
      const headKeys = new Set(heads.map(cidString));
      const below = new Set(commits.map((c) => cidString(c.cid)));
      for (const c of commits)
        for (const p of decodeEnvelope(c.bytes, `commit ${cidString(c.cid)}`)
          .parents)
          below.add(cidString(p));
      const remove = current.filter((h) => {
        const k = cidString(h);
        return !headKeys.has(k) && (isKnown(k) || below.has(k));
      });
      return gateway.putHeads(ledger, { add: heads, remove });
    },

    close() {
      isClosed = true;
      unwatch?.();
      unwatch = undefined;
      ended.resolve(new Error("closed"));
      return Promise.resolve();
    },
  };
  return remote;
}

/** Orders a set of commits so every parent in the set comes before its children. */
function parentsFirst(
  found: Map<string, WireCommit & { parents: CID[] }>,
): WireCommit[] {
  const out: WireCommit[] = [];
  const done = new Set<string>();
  for (const start of found.keys()) {
    const stack: [string, boolean][] = [[start, false]];
    while (stack.length > 0) {
      const [key, expanded] = stack.pop()!;
      if (done.has(key)) continue;
      const commit = found.get(key)!;
      if (expanded) {
        done.add(key);
        out.push({ cid: commit.cid, bytes: commit.bytes });
        continue;
      }
      stack.push([key, true]);
      for (const p of commit.parents) {
        const pk = cidString(p);
        if (found.has(pk) && !done.has(pk)) stack.push([pk, false]);
      }
    }
  }
  return out;
}
