// Membership is enforced on every replica: in a membered ledger only members' commits
// merge. A holder of the content key who is not a member cannot write locally, and a commit
// it forges (sealed and signed by hand) is refused by every replica that merges it — with a
// typed error on the ledger and the connection — while everything else keeps syncing.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type { CID } from "multiformats/cid";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeDocValue } from "../../src/blocks/cbor-writer.js";
import { sealBytes } from "../../src/blocks/commit.js";
import { decodeLedgerKey } from "../../src/blocks/ledger-key.js";
import { nodeCrypto } from "../../src/blocks/node-crypto.js";
import { encodeEvent } from "../../src/crdt/event.js";
import { memoryGateway } from "../../src/gateways/memory-gateway.js";
import {
  exportLedger,
  importLedger,
  MembershipError,
  nodeSigning,
  openLedger,
  whoami,
} from "../../src/index.js";
import type { Connection, Ledger, OpenLedgerOptions } from "../../src/index.js";

let n = 0;
const room = () => `memory://members-room-${process.pid}-${n++}`;
const FAST = { backoff: { baseMs: 5, maxMs: 20 } };
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function open(name: string, options: OpenLedgerOptions): Promise<Ledger> {
  const ledger = await openLedger(name, options);
  cleanup.push(() => ledger.close());
  return ledger;
}

function refusal(c: Connection): Promise<Error> {
  return new Promise((resolve) =>
    c.on("error", (e) => {
      if (e.code === "membership") resolve(e);
    }),
  );
}

/** A commit sealed and signed by `ledger`'s key holder with its own writer key, on `parents`. */
async function forge(key: string, parents: readonly CID[], height: number) {
  const forger = await nodeSigning.importSigner(randomBytes(32));
  return sealBytes(
    nodeCrypto,
    decodeLedgerKey(key),
    parents,
    encodeEvent({ h: height, ops: [["forged", encodeDocValue({ v: 1 })]] }),
    forger,
  );
}

describe("a membered ledger", () => {
  it("has its creator as first admin, in the create record of its first commit", async () => {
    const a = await open("orders", { storage: "memory://", members: true });
    // Before its first commit, its creator alone (the first commit will say so).
    expect(a.members()).toEqual({
      creator: a.writer,
      roles: { [a.writer]: "admin" },
    });
    await a.put({ _id: "o1" });
    const members = a.members()!;
    expect(members.creator).toBe(a.writer);
    expect(members.roles).toEqual({ [a.writer]: "admin" });
    // An open ledger has no members: every key holder writes.
    const open_ = await open("orders", { storage: "memory://" });
    await open_.put({ _id: "o1" });
    expect(open_.members()).toBeUndefined();
  });

  it("refuses a non-member's local write, and its forged commit on every replica; the rest syncs", async () => {
    const url = room();
    const a = await open("orders", { storage: "memory://", members: true });
    const ca = a.connect(url, FAST);
    await a.put({ _id: "o1", v: 1 });
    await ca.synced();

    // b holds the key (handed over raw) but was never admitted.
    const b = await open("orders", { storage: "memory://", key: a.key });
    const cb = b.connect(url, FAST);
    await cb.synced();
    await expect(b.put({ _id: "b1" })).rejects.toBeInstanceOf(MembershipError);
    await expect(b.put({ _id: "b1" })).rejects.toMatchObject({
      code: "membership",
      reason: "not-member",
    });

    // b forges a commit by hand on a's head and slips it into the remote beside it.
    const g = await memoryGateway.open(memoryGateway.parse(new URL(url)));
    cleanup.push(() => g.close());
    const heads = await g.getHeads("orders");
    const forged = await forge(a.key, heads, 3);
    await g.putCommit("orders", forged.cid, forged.bytes);
    await g.putHeads("orders", { add: [forged.cid], remove: [] });
    await a.put({ _id: "o2", v: 2 });
    await ca.synced();

    // c, a replica with the key, merges a's commits and refuses the forged one.
    const c = await open("orders", { storage: "memory://", key: a.key });
    const errors: unknown[] = [];
    c.on("error", (e) => errors.push(e));
    const cc = c.connect(url, FAST);
    const error = await refusal(cc);
    await cc.synced();
    expect(error).toMatchObject({
      code: "membership",
      reason: "not-member",
      cid: forged.cid.toString(),
    });
    expect(errors).toContain(error);
    expect(cc.status).toMatchObject({ kind: "live", refused: error });
    expect((await c.allDocs()).rows.map((r) => r.id)).toEqual(["o1", "o2"]);
    await expect(c.get("forged")).rejects.toMatchObject({ code: "not-found" });
    expect(c.clock).toEqual(a.clock);

    // a refuses it too (live), and still syncs.
    await ca.synced();
    await expect(a.get("forged")).rejects.toMatchObject({ code: "not-found" });
  });

  it("reopens with its members, from the saved index and the commits after it", async () => {
    const storage = room();
    const a = await openLedger("orders", { storage, members: true });
    await a.put({ _id: "o1" });
    await a.close();
    const again = await open("orders", { storage });
    expect(again.members()?.creator).toBe(again.writer);
    await again.put({ _id: "o2" });
    expect(again.members()?.roles).toEqual({ [again.writer]: "admin" });
  });
});

describe("a membered ledger without its saved index", () => {
  it("rebuilds it from the envelopes after importLedger, and still refuses non-members", async () => {
    const url = room();
    const a = await open("orders", { storage: "memory://", members: true });
    const ca = a.connect(url, FAST);
    await a.put({ _id: "o1", v: 1 });
    const bWriter = await whoami({ storage: room() });
    await a.invite(bWriter, { role: "writer" });
    await ca.synced();
    expect(Object.keys(a.members()!.roles)).toHaveLength(2);

    // A forged commit by a key holder who is no member, beside a's head in the remote.
    const g = await memoryGateway.open(memoryGateway.parse(new URL(url)));
    cleanup.push(() => g.close());
    const forged = await forge(a.key, await g.getHeads("orders"), 3);
    await g.putCommit("orders", forged.cid, forged.bytes);
    await g.putHeads("orders", { add: [forged.cid], remove: [] });

    // Import copies commits, not the meta record the index is saved in.
    const chunks: Uint8Array[] = [];
    for await (const chunk of exportLedger(a)) chunks.push(chunk);
    const storage = room();
    await importLedger("orders", Readable.from(chunks), { storage });
    const d = await open("orders", { storage, key: a.key });
    expect(d.members()).toEqual(a.members());
    await expect(d.put({ _id: "x" })).rejects.toMatchObject({
      reason: "not-member",
    });

    const errors: unknown[] = [];
    d.on("error", (e) => errors.push(e));
    const cd = d.connect(url, FAST);
    const error = await refusal(cd);
    await cd.synced();
    expect(error).toMatchObject({
      reason: "not-member",
      cid: forged.cid.toString(),
    });
    expect(errors).toContain(error);
    await expect(d.get("forged")).rejects.toMatchObject({ code: "not-found" });
  });
});

describe("an open ledger", () => {
  it("reads on reopen only the envelopes stored since its last open", async () => {
    const storage = room();
    const handle = await memoryGateway.open(
      memoryGateway.parse(new URL(storage)),
    );
    const proto = Object.getPrototypeOf(handle) as {
      getCommit: (...args: unknown[]) => unknown;
    };
    const reads = vi.spyOn(proto, "getCommit");
    const reopen = async (): Promise<number> => {
      reads.mockClear();
      const ledger = await openLedger("open", { storage });
      const count = reads.mock.calls.length;
      await ledger.close();
      return count;
    };
    try {
      const a = await openLedger("open", { storage });
      for (let i = 0; i < 40; i++) await a.put({ _id: `d${i}` });
      await a.close();
      const first = await reopen(); // walks all 40 envelopes, then remembers the heads
      const second = await reopen(); // reads none of them again for membership
      expect(first - second).toBeGreaterThanOrEqual(40);
      const b = await openLedger("open", { storage });
      await b.put({ _id: "later" });
      expect(b.members()).toBeUndefined();
      await b.close();
      expect(await reopen()).toBe(second + 1); // the one commit stored since
    } finally {
      reads.mockRestore();
      await handle.close();
    }
  });
});
