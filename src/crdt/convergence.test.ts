// Replicas write random puts, deletes and bulk writes while a test network delivers their
// events in random order, in random batches, with duplicates. Every replica must end with
// the same heads, doc-tree root, docs and conflicts. The seed is printed; reproduce a
// failure with KILN_SEED=<seed>.
import { describe, expect, it } from "vitest";
import { CID } from "multiformats/cid";
import { nodeCrypto } from "../blocks/node-crypto.js";
import { cidFor } from "../blocks/cid.js";
import { decodeValue, encodeValue } from "../blocks/codec.js";
import type { Random } from "../util/random.js";
import { createRandom, testSeed } from "../util/random.js";
import { utf8 } from "../util/bytes.js";
import type { MergeEvent } from "./merge.js";
import type { Op } from "./ledger-state.js";
import { LedgerState } from "./ledger-state.js";
import type { TreeNode } from "./prolly-tree.js";
import { decodeTreeNode } from "./prolly-tree.js";

class Replica {
  readonly blocks = new Map<string, Uint8Array>();
  readonly state: LedgerState;
  readonly inbox: MergeEvent[] = [];

  constructor() {
    this.state = new LedgerState({
      crypto: nodeCrypto,
      source: {
        getNode: (cid: CID): Promise<TreeNode<CID>> => {
          const bytes = this.blocks.get(cid.toString());
          if (!bytes) throw new Error(`missing node ${cid.toString()}`);
          return Promise.resolve(
            decodeTreeNode(
              cid,
              decodeValue(bytes, "node"),
              (v): v is CID => CID.asCID(v) !== null,
            ),
          );
        },
      },
    });
  }

  async write(ops: Op[]): Promise<MergeEvent> {
    const planned = await this.state.planWrite(ops);
    for (const b of planned.update.blocks)
      this.blocks.set(b.cid.toString(), b.bytes);
    const cid = cidFor(
      nodeCrypto,
      encodeValue({ parents: planned.parents, ops, h: planned.height }),
    ).toString();
    this.state.applyWrite(cid, ops, planned);
    return {
      cid,
      parents: planned.parents,
      height: planned.height,
      ids: ops.map((o) => o[0]),
      ops,
    };
  }

  async merge(events: MergeEvent[]): Promise<void> {
    const { update } = await this.state.merge(events);
    for (const b of update.blocks) this.blocks.set(b.cid.toString(), b.bytes);
  }

  /** Merges whatever in the inbox is causally ready, in random batches. */
  async deliver(rnd: Random): Promise<void> {
    for (;;) {
      const ready = this.inbox.filter((e) =>
        e.parents.every(
          (p) => this.state.clock.has(p) || this.inbox.some((x) => x.cid === p),
        ),
      );
      if (ready.length === 0) return;
      // A random subset that is closed under "parent in inbox" is simplest to get by
      // taking everything ready or a random prefix of a topological order.
      const batch =
        rnd.next() < 0.5
          ? ready
          : ready.filter((e) =>
              e.parents.every((p) => this.state.clock.has(p)),
            );
      if (batch.length === 0) return;
      const take = batch.slice(0, 1 + rnd.int(batch.length));
      // Duplicates within a batch and re-delivery of known events must be harmless.
      if (rnd.next() < 0.3) take.push(take[0]!);
      await this.merge(take);
      for (const e of take) {
        const i = this.inbox.findIndex((x) => x.cid === e.cid);
        if (i >= 0) this.inbox.splice(i, 1);
      }
    }
  }

  async snapshot() {
    const docs: [string, string][] = [];
    for await (const [k, v] of this.state.tree.entries(this.state.root))
      docs.push([k, v.toString()]);
    const versions = [...this.state.versions.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([id, vs]) => [
        id,
        vs.map((v) => `${v.event}:${v.doc?.toString() ?? "deleted"}`),
      ]);
    return {
      heads: [...this.state.clock.heads],
      root: this.state.root?.toString(),
      docs,
      versions,
    };
  }
}

const docCid = (text: string) => cidFor(nodeCrypto, utf8(text));

async function run(seed: number, replicaCount: number, steps: number) {
  const rnd = createRandom(seed);
  const replicas = Array.from({ length: replicaCount }, () => new Replica());
  const ids = Array.from({ length: 40 }, (_, i) => `doc${i}`);
  for (let step = 0; step < steps; step++) {
    const r = rnd.pick(replicas);
    const roll = rnd.next();
    let ops: Op[];
    if (roll < 0.55) ops = [[rnd.pick(ids), docCid(`v${step}`)]];
    else if (roll < 0.75) ops = [[rnd.pick(ids), null]];
    else {
      const n = 2 + rnd.int(6);
      const chosen = new Map<string, CID | null>();
      for (let i = 0; i < n; i++)
        chosen.set(
          rnd.pick(ids),
          rnd.next() < 0.8 ? docCid(`b${step}.${i}`) : null,
        );
      ops = [...chosen.entries()];
    }
    const event = await r.write(ops);
    for (const other of replicas) {
      if (other === r) continue;
      // Random delivery: sometimes twice, sometimes later (kept in a backlog by order).
      other.inbox.push(event);
      if (rnd.next() < 0.2) other.inbox.push(event);
    }
    if (rnd.next() < 0.4) await rnd.pick(replicas).deliver(rnd);
  }
  for (const r of replicas) {
    while (r.inbox.length > 0) {
      const before = r.inbox.length;
      await r.deliver(rnd);
      // Anything left after a full pass can only be duplicates of known events.
      if (r.inbox.length === before)
        r.inbox.splice(
          0,
          r.inbox.length,
          ...r.inbox.filter((e) => !r.state.clock.has(e.cid)),
        );
      if (r.inbox.length === before) throw new Error("undeliverable events");
    }
  }
  return Promise.all(replicas.map((r) => r.snapshot()));
}

describe("convergence", () => {
  it("replicas converge whatever the delivery order, batching and duplication", async () => {
    const base = testSeed(process.env.KILN_SEED);
    console.log(`convergence seed ${base} (reproduce with KILN_SEED=${base})`);
    for (let round = 0; round < 12; round++) {
      const seed = (base + round) >>> 0;
      const snapshots = await run(seed, 3 + (round % 3), 120);
      const first = snapshots[0]!;
      expect(first.docs.length, `seed ${seed}`).toBeGreaterThan(0);
      for (const s of snapshots.slice(1))
        expect(s, `seed ${seed}`).toEqual(first);
    }
  });

  it("a same-key conflict picks the same winner everywhere and keeps the loser", async () => {
    const a = new Replica();
    const b = new Replica();
    const ea = await a.write([["x", docCid("from a")]]);
    const eb = await b.write([["x", docCid("from b")]]);
    await a.merge([eb]);
    await b.merge([ea]);
    const va = a.state.versions.get("x")!;
    const vb = b.state.versions.get("x")!;
    expect(va).toHaveLength(2);
    expect(va.map((v) => v.event)).toEqual(vb.map((v) => v.event));
    expect((await a.state.tree.get(a.state.root, "x"))?.toString()).toBe(
      va[0]!.doc!.toString(),
    );
    // A later write on either side supersedes both.
    const resolve = await a.write([["x", docCid("resolved")]]);
    await b.merge([resolve]);
    expect(b.state.versions.get("x")).toHaveLength(1);
    expect(a.state.root?.toString()).toBe(b.state.root?.toString());
  });

  it("a live version beats a concurrent delete", async () => {
    const a = new Replica();
    const b = new Replica();
    const base = await a.write([["x", docCid("base")]]);
    await b.merge([base]);
    const del = await a.write([["x", null]]);
    const edit = await b.write([["x", docCid("edit")]]);
    await a.merge([edit]);
    await b.merge([del]);
    for (const r of [a, b]) {
      expect(r.state.winner("x")?.doc?.toString()).toBe(
        docCid("edit").toString(),
      );
      expect(r.state.versions.get("x")).toHaveLength(2);
    }
  });
});
