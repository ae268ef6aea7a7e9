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
import { encodeDocValue } from "../blocks/cbor-writer.js";
import type { Body } from "./fields-merge.js";
import type { MergeEvent, Op, Version } from "./merge.js";
import { opFields } from "./merge.js";
import { changedFields, sameValue } from "./fields-merge.js";
import { LedgerState } from "./ledger-state.js";
import type { TreeNode } from "./prolly-tree.js";
import { decodeTreeNode } from "./prolly-tree.js";

/** Every doc body written, by its CID: what the replicas' commits would carry. */
const bodies = new Map<string, Body>();

function docCid(body: Body): CID {
  const cid = cidFor(nodeCrypto, encodeDocValue(body));
  bodies.set(cid.toString(), body);
  return cid;
}

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
      bodyOf: (_id, v) => Promise.resolve(bodyOf(v)),
      onTreeUpdate: (update) => {
        for (const b of update.blocks)
          this.blocks.set(b.cid.toString(), b.bytes);
      },
    });
  }

  /** The current body of `id`, if it has a live doc. */
  current(id: string): Body | undefined {
    const v = this.state.current(id);
    return v?.doc ? bodyOf(v) : undefined;
  }

  /** Puts (body) or deletes (null) docs, recording changed fields as the ledger does. */
  async put(docs: [string, Body | null][]): Promise<MergeEvent> {
    const ops: Op[] = docs.map(([id, body]) => {
      if (!body) return [id, null];
      const base = this.current(id);
      return base
        ? [id, docCid(body), changedFields(base, body)]
        : [id, docCid(body)];
    });
    return this.write(ops);
  }

  write(ops: Op[]): Promise<MergeEvent> {
    const planned = this.state.planWrite();
    const cid = cidFor(
      nodeCrypto,
      encodeValue({ parents: planned.parents, ops, h: planned.height }),
    ).toString();
    this.state.applyWrite(cid, ops, planned);
    const fields = opFields(ops);
    return Promise.resolve({
      cid,
      parents: planned.parents,
      height: planned.height,
      ids: ops.map((o) => o[0]),
      ops,
      ...(fields ? { fields } : {}),
    });
  }

  async merge(events: MergeEvent[]): Promise<void> {
    await this.state.merge(events);
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
    const docs: [string, string, Body][] = [];
    const root = await this.state.treeRoot();
    for await (const [k, v] of this.state.tree.entries(root))
      docs.push([k, v.toString(), this.current(k)!]);
    const ids = [...this.state.versions.keys()].sort();
    const versions = ids.map((id) => [
      id,
      this.state.versions
        .get(id)!
        .map((v) => `${v.event}:${v.doc?.toString() ?? "deleted"}`),
    ]);
    const losers: [string, string[]][] = ids.map((id) => [
      id,
      (this.state.merged.get(id)?.losers ?? []).map((v) => v.event),
    ]);
    return {
      heads: [...this.state.clock.heads],
      root: root?.toString(),
      docs,
      versions,
      losers,
      // Current docs equal to none of their live versions: fields from several.
      blended: [...this.state.merged.entries()].filter(
        ([id, m]) =>
          !this.state.versions
            .get(id)!
            .some((v) => v.doc && sameValue(bodyOf(v), bodyOf(m))),
      ).length,
    };
  }
}

function bodyOf(v: Version): Body {
  if (v.cache) return v.cache as Body;
  const body = bodies.get(v.doc!.toString());
  if (!body) throw new Error(`no body for ${v.doc!.toString()}`);
  return body;
}

const FIELDS = ["status", "amount", "approvedBy", "note", "tags"];

/** A random edit of `base`: one to three fields set to new values or removed. */
function edit(rnd: Random, base: Body, step: number): Body {
  const next: Record<string, unknown> = { ...base };
  for (let n = 1 + rnd.int(3); n > 0; n--) {
    const f = rnd.pick(FIELDS);
    if (rnd.next() < 0.2) delete next[f];
    else next[f] = rnd.next() < 0.5 ? `s${step}.${n}` : [step, n];
  }
  return next;
}

async function run(seed: number, replicaCount: number, steps: number) {
  const rnd = createRandom(seed);
  const replicas = Array.from({ length: replicaCount }, () => new Replica());
  // Few ids, so concurrent puts of one doc (and of one field) are common.
  const ids = Array.from({ length: 12 }, (_, i) => `doc${i}`);
  for (let step = 0; step < steps; step++) {
    const r = rnd.pick(replicas);
    const roll = rnd.next();
    const change = (id: string): [string, Body | null] => {
      const base = r.current(id);
      if (base && rnd.next() < 0.8) return [id, edit(rnd, base, step)];
      return [id, { status: `new${step}`, amount: rnd.int(100) }];
    };
    let docs: [string, Body | null][];
    if (roll < 0.6) docs = [change(rnd.pick(ids))];
    else if (roll < 0.75) docs = [[rnd.pick(ids), null]];
    else {
      const chosen = new Map<string, Body | null>();
      for (let i = 2 + rnd.int(6); i > 0; i--) {
        const [id, body] = change(rnd.pick(ids));
        chosen.set(id, rnd.next() < 0.8 ? body : null);
      }
      docs = [...chosen.entries()];
    }
    const event = await r.put(docs);
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
    let blended = 0;
    let lost = 0;
    for (let round = 0; round < 12; round++) {
      const seed = (base + round) >>> 0;
      const snapshots = await run(seed, 3 + (round % 3), 120);
      const first = snapshots[0]!;
      expect(first.docs.length, `seed ${seed}`).toBeGreaterThan(0);
      for (const s of snapshots.slice(1))
        expect(s, `seed ${seed}`).toEqual(first);
      blended += first.blended;
      lost += first.losers.filter(([, l]) => l.length > 0).length;
    }
    // The runs reached fields merges: docs made of several versions' fields, and contested
    // fields with a losing version.
    expect(blended).toBeGreaterThan(0);
    expect(lost).toBeGreaterThan(0);
  });

  it("two approvers set different fields of one doc at once: both survive everywhere, no conflict", async () => {
    const a = new Replica();
    const b = new Replica();
    const trade = { amount: 100, status: "pending" };
    const base = await a.put([["t", trade]]);
    await b.merge([base]);
    const ea = await a.put([["t", { ...trade, approvedByA: "alice" }]]);
    const eb = await b.put([["t", { ...trade, approvedByB: "bob" }]]);
    await a.merge([eb]);
    await b.merge([ea]);
    for (const r of [a, b]) {
      expect(r.current("t")).toEqual({
        ...trade,
        approvedByA: "alice",
        approvedByB: "bob",
      });
      expect(r.state.merged.get("t")?.losers).toEqual([]);
    }
    expect((await a.state.treeRoot())?.toString()).toBe(
      (await b.state.treeRoot())?.toString(),
    );
    // A later put on top of the merge keeps both approvals and ends the merge.
    const next = await a.put([["t", { ...a.current("t")!, status: "done" }]]);
    expect(next.fields).toEqual([["status"]]);
    await b.merge([next]);
    expect(b.current("t")).toEqual({
      ...trade,
      status: "done",
      approvedByA: "alice",
      approvedByB: "bob",
    });
    expect(b.state.merged.has("t")).toBe(false);
  });

  it("the same field written at once: one winner everywhere, the loser kept whole", async () => {
    const a = new Replica();
    const b = new Replica();
    const base = await a.put([["x", { status: "open", n: 1 }]]);
    await b.merge([base]);
    const ea = await a.put([["x", { status: "from a", n: 1 }]]);
    const eb = await b.put([["x", { status: "from b", n: 2 }]]);
    await a.merge([eb]);
    await b.merge([ea]);
    const winner = ea.cid > eb.cid ? "from a" : "from b";
    const losing = ea.cid > eb.cid ? eb : ea;
    for (const r of [a, b]) {
      // n was changed by b alone: it survives whichever side wins status.
      expect(r.current("x")).toEqual({ status: winner, n: 2 });
      expect(r.state.merged.get("x")!.losers!.map((v) => v.event)).toEqual([
        losing.cid,
      ]);
    }
    expect((await a.state.treeRoot())?.toString()).toBe(
      (await b.state.treeRoot())?.toString(),
    );
  });

  it("a concurrent create of one id keeps the winner whole", async () => {
    const a = new Replica();
    const b = new Replica();
    const ea = await a.put([["x", { from: "a", onlyA: 1 }]]);
    const eb = await b.put([["x", { from: "b" }]]);
    await a.merge([eb]);
    await b.merge([ea]);
    const [win, lose] = ea.cid > eb.cid ? [ea, eb] : [eb, ea];
    for (const r of [a, b]) {
      expect(r.current("x")).toEqual(bodyOf(r.state.versions.get("x")![0]!));
      expect(r.state.versions.get("x")![0]!.event).toBe(win.cid);
      expect(r.state.merged.get("x")!.losers!.map((v) => v.event)).toEqual([
        lose.cid,
      ]);
    }
  });

  it("a live version beats a concurrent delete, and keeps the fields it did not change", async () => {
    const a = new Replica();
    const b = new Replica();
    const base = await a.put([["x", { keep: 1, change: 1 }]]);
    await b.merge([base]);
    const del = await a.put([["x", null]]);
    const edit = await b.put([["x", { keep: 1, change: 2 }]]);
    await a.merge([edit]);
    await b.merge([del]);
    for (const r of [a, b]) {
      expect(r.current("x")).toEqual({ keep: 1, change: 2 });
      expect(r.state.versions.get("x")).toHaveLength(2);
    }
  });

  it("a doc re-created after a delete does not bring back the old fields", async () => {
    const a = new Replica();
    const b = new Replica();
    const base = await a.put([["x", { old: 1 }]]);
    const del = await a.put([["x", null]]);
    const again = await a.put([["x", { fresh: 1 }]]);
    expect(again.fields).toBeUndefined();
    await b.merge([base, del, again]);
    expect(b.current("x")).toEqual({ fresh: 1 });
  });
});
