import { describe, expect, it } from "vitest";
import { cidKey, type CID } from "../blocks/cid.js";
import { createRandom, testSeed, type Random } from "../util/random.js";
import type { Backend, StoredCommit } from "./backend.js";
import { createMemoryBackend } from "./backends/memory-backend.js";
import { makeTestChain, makeTestCommit } from "./backends/test-commits.js";
import { missingCommits } from "./missing.js";

interface Dag {
  /** Parents before children. */
  readonly commits: StoredCommit[];
  readonly height: Map<string, number>;
}

/**
 * A random commit DAG like replicas make it: most commits extend one of the current tips,
 * some start a branch off an older commit (one made in this call, or a starting tip), some
 * merge two or three tips.
 */
async function randomDag(random: Random, n: number, on: Dag = emptyDag()) {
  const { commits, height } = on;
  const tips = new Set(tipsOf(on));
  const older = [...tips];
  for (let i = 0; i < n; i++) {
    const open = [...tips];
    let parents: CID[];
    const roll = random.next();
    if (older.length === 0) parents = [];
    else if (roll < 0.15 && open.length >= 2) {
      const a = random.pick(open);
      const rest = open.filter((t) => t !== a);
      const b = random.pick(rest);
      const c = random.next() < 0.3 ? random.pick(rest) : b;
      parents = [...new Set([a, b, c])].map((t) => t.cid);
    } else if (roll < 0.25) parents = [random.pick(older).cid];
    else parents = [random.pick(open.length > 0 ? open : commits).cid];
    const commit = await makeTestCommit(parents, 64);
    for (const p of parents)
      for (const t of tips) if (t.cid.equals(p)) tips.delete(t);
    tips.add(commit);
    commits.push(commit);
    older.push(commit);
    height.set(
      cidKey(commit.cid),
      1 + Math.max(0, ...parents.map((p) => height.get(cidKey(p))!)),
    );
  }
  return on;
}

function emptyDag(): Dag {
  return { commits: [], height: new Map() };
}

function tipsOf(dag: Dag): StoredCommit[] {
  const parents = new Set(
    dag.commits.flatMap((c) => c.parents.map((p) => cidKey(p))),
  );
  return dag.commits.filter((c) => !parents.has(cidKey(c.cid)));
}

/** Brute force: every ancestor of the heads, minus every ancestor of the known `have`. */
function expectedMissing(dag: Dag, have: readonly CID[]): string[] {
  const byKey = new Map(dag.commits.map((c) => [cidKey(c.cid), c]));
  const ancestors = (from: readonly CID[]): Set<string> => {
    const seen = new Set<string>();
    const stack = from.map((c) => cidKey(c)).filter((k) => byKey.has(k));
    while (stack.length > 0) {
      const key = stack.pop()!;
      if (seen.has(key)) continue;
      seen.add(key);
      for (const p of byKey.get(key)!.parents) stack.push(cidKey(p));
    }
    return seen;
  };
  const wanted = ancestors(tipsOf(dag).map((c) => c.cid));
  const has = ancestors(have);
  return [...wanted]
    .filter((k) => !has.has(k))
    .map((k) => ({ h: dag.height.get(k)!, s: byKey.get(k)!.cid.toString() }))
    .sort((a, b) => a.h - b.h || (a.s < b.s ? -1 : a.s > b.s ? 1 : 0))
    .map((x) => x.s);
}

/** Counts getMeta calls and the CIDs they ask for. */
function counting(backend: Backend): {
  backend: Backend;
  calls: number;
  cids: number;
} {
  const counts = { backend, calls: 0, cids: 0 };
  counts.backend = {
    ...backend,
    getMeta: (ledger, cids) => {
      counts.calls++;
      counts.cids += cids.length;
      return backend.getMeta(ledger, cids);
    },
  };
  return counts;
}

const texts = (cids: readonly CID[]): string[] => cids.map(String);

describe("missingCommits", () => {
  it("matches a brute-force ancestor difference on random DAGs", async () => {
    const base = testSeed(process.env.KILN_SEED);
    console.log(`missing seed ${base} (reproduce with KILN_SEED=${base})`);
    for (let round = 0; round < 40; round++) {
      const seed = (base + round) >>> 0;
      const random = createRandom(seed);
      const dag = await randomDag(random, 1 + random.int(250));
      const backend = createMemoryBackend();
      await backend.putCommits("l", dag.commits);
      for (let trial = 0; trial < 5; trial++) {
        // What a client may send: some commits it holds, perhaps one the server lacks.
        const have = Array.from(
          { length: random.int(4) },
          () => random.pick(dag.commits).cid,
        );
        if (random.next() < 0.3) have.push((await makeTestCommit()).cid);
        expect(
          texts(await missingCommits(backend, "l", have)),
          `seed ${seed} trial ${trial}`,
        ).toEqual(expectedMissing(dag, have));
      }
      await backend.close();
    }
  });

  it("returns nothing for an unknown ledger or a client with every head", async () => {
    const backend = createMemoryBackend();
    expect(await missingCommits(backend, "none", [])).toEqual([]);
    const chain = await makeTestChain(3);
    await backend.putCommits("l", chain);
    expect(await missingCommits(backend, "l", [chain[2]!.cid])).toEqual([]);
    expect(texts(await missingCommits(backend, "l", []))).toEqual(
      texts(chain.map((c) => c.cid)),
    );
  });

  it("costs O(difference), not O(history)", async () => {
    const seed = testSeed(process.env.KILN_SEED);
    console.log(`missing cost seed ${seed} (reproduce with KILN_SEED=${seed})`);
    const costs: { history: number; calls: number; cids: number }[] = [];
    for (const history of [100, 3000]) {
      const random = createRandom(seed);
      // A long history with branches and merges, merged into one commit the client has...
      const dag = await randomDag(random, history);
      const synced = await makeTestCommit(
        tipsOf(dag).map((c) => c.cid),
        64,
      );
      dag.commits.push(synced);
      dag.height.set(
        cidKey(synced.cid),
        1 + Math.max(...synced.parents.map((p) => dag.height.get(cidKey(p))!)),
      );
      // ...then 20 new commits on top, with their own branches and merges.
      // (Drawn from their own generator, so both history sizes get the same shape.)
      await randomDag(createRandom(seed + 1), 20, dag);
      const backend = createMemoryBackend();
      await backend.putCommits("l", dag.commits);
      const counted = counting(backend);
      const missing = await missingCommits(counted.backend, "l", [synced.cid]);
      expect(texts(missing), `seed ${seed}`).toEqual(
        expectedMissing(dag, [synced.cid]),
      );
      expect(missing.length).toBe(20);
      costs.push({ history, calls: counted.calls, cids: counted.cids });

      // Missing nothing: one getMeta call over the heads and have.
      const heads = await backend.getHeads("l");
      const none = counting(backend);
      expect(await missingCommits(none.backend, "l", heads)).toEqual([]);
      expect({ calls: none.calls, cids: none.cids }).toEqual({
        calls: 1,
        cids: heads.length,
      });
      await backend.close();
    }
    console.log("missingCommits cost by history size", costs);
    // The same 20-commit difference over 30x the history reads the same meta.
    expect(costs[1]!.calls).toBe(costs[0]!.calls);
    expect(costs[1]!.cids).toBe(costs[0]!.cids);
    expect(costs[1]!.cids).toBeLessThanOrEqual(3 * 20);
  });
});
