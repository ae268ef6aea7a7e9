// The conformance case of Backend.dropCommits (history let go: `publish` with retain
// "snapshot"), registered by backend-conformance.ts. Kept apart because that suite is long.
import { expect, it } from "vitest";
import type { CID } from "../blocks/cid.js";
import type { Backend, StoredCommit } from "./backend.js";
import { makeTestChain, makeTestCommit } from "./backends/test-commits.js";

export interface DropCaseParts {
  openTracked: () => Promise<Backend>;
  fresh: (label: string) => string;
  /** Bytes the backend stores for the ledger (when the backend can tell): they must shrink. */
  storedBytes?: (backend: Backend, ledger: string) => Promise<number>;
  /** Opens the closed backend again (durable backends): the drop must last. */
  reopen?: (closed: Backend) => Promise<Backend>;
  track: (backend: Backend) => void;
}

export function dropCase(parts: DropCaseParts): void {
  const { openTracked, fresh, storedBytes, reopen } = parts;
  it("drops the bytes of covered commits, keeps their meta, and still takes their children", async () => {
    let b = await openTracked();
    const ledger = fresh("drop");
    const other = fresh("drop-other");
    const chain = await makeTestChain(6, [], 2000);
    const side = await makeTestChain(2, [chain[1]!.cid], 2000);
    await b.putCommits(ledger, [...chain, ...side]);
    await b.putCommits(other, chain);
    const heads = texts(await b.getHeads(ledger));
    const before = storedBytes ? await storedBytes(b, ledger) : 0;
    const covered = chain.slice(0, 4);
    const metas = (await b.getMeta(ledger, cids(covered))).map((m) => ({
      parents: texts(m!.parents),
      height: m!.height,
    }));

    expect(await b.dropCommits(ledger, cids(covered))).toBe(4);
    // Again, with one unknown CID: nothing more to drop.
    const stranger = await makeTestCommit([], 100);
    expect(await b.dropCommits(ledger, [covered[0]!.cid, stranger.cid])).toBe(
      0,
    );
    if (reopen) {
      await b.close();
      b = await reopen(b);
      parts.track(b);
    }
    expect(await b.getCommits(ledger, cids(covered))).toEqual(
      covered.map(() => undefined),
    );
    expect(
      (await b.getMeta(ledger, cids(covered))).map((m) => ({
        parents: texts(m!.parents),
        height: m!.height,
        dropped: m!.dropped,
      })),
    ).toEqual(metas.map((m) => ({ ...m, dropped: true })));
    // What was not dropped is served as before, here and in the other ledger.
    const rest = [...chain.slice(4), ...side];
    const bytes = await b.getCommits(ledger, cids(rest));
    rest.forEach((c, i) => expect(bytes[i]?.length).toBe(c.bytes.length));
    const meta = await b.getMeta(ledger, [chain[4]!.cid]);
    expect(meta[0]?.dropped).toBeUndefined();
    expect(
      (await b.getCommits(other, cids(covered))).every((x) => x !== undefined),
    ).toBe(true);
    expect(texts(await b.getHeads(ledger))).toEqual(heads);
    if (storedBytes)
      expect(await storedBytes(b, ledger)).toBeLessThanOrEqual(
        before - 4 * 2000 + 400,
      );
    // A commit whose parent was dropped is taken; a re-put of a dropped one adds nothing.
    const child = await makeTestCommit([covered[3]!.cid], 300);
    const put = await b.putCommits(ledger, [covered[3]!, child]);
    expect(texts(put.added)).toEqual(texts([child]));
    expect((await b.getMeta(ledger, [child.cid]))[0]?.height).toBe(5);
  });
}

function cids(commits: readonly StoredCommit[]): CID[] {
  return commits.map((c) => c.cid);
}

function texts(items: readonly (CID | StoredCommit)[]): string[] {
  return items.map((x) => ("parents" in x ? x.cid : x).toString());
}
