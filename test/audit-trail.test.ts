// The audit trail: ledger.history(id) lists a doc's versions with their commits and writers,
// and ledger.at(clock) shows the ledger as it was at a past clock — until compaction let
// that history go, which a HistoryGoneError says.
import { randomBytes } from "node:crypto";
import type { CID } from "multiformats/cid";
import { describe, expect, it } from "vitest";
import { encodeDocValue } from "../src/blocks/cbor-writer.js";
import { sealBytes } from "../src/blocks/commit.js";
import { createLedgerKey, encodeLedgerKey } from "../src/blocks/ledger-key.js";
import { encodeEvent } from "../src/crdt/event.js";
import { memoryGateway } from "../src/gateways/memory-gateway.js";
import { encodeMembershipRecord } from "../src/trust/membership-record.js";
import type { CryptoProvider } from "../src/blocks/crypto.js";
import { nodeCrypto } from "../src/blocks/node-crypto.js";
import { createRandom, testSeed } from "../src/util/random.js";
import {
  HistoryGoneError,
  InvalidArgumentError,
  ReadOnlyError,
  nodeSigning,
  openLedger,
  whoami,
} from "../src/index.js";
import type { DocVersion } from "../src/index.js";

let n = 0;
const storage = () => `memory://audit-${process.pid}-${n++}`;

/** node:crypto, counting decryptions. */
function countingCrypto(): CryptoProvider & { decrypts: number } {
  const c = {
    ...nodeCrypto,
    decrypts: 0,
    decrypt(...args: Parameters<CryptoProvider["decrypt"]>) {
      c.decrypts++;
      return nodeCrypto.decrypt(...args);
    },
  };
  return c;
}

const summary = (v: DocVersion) =>
  v.kind === "put"
    ? { kind: v.kind, doc: v.doc, fields: v.fields }
    : v.kind === "del"
      ? { kind: v.kind }
      : { kind: v.kind, fields: v.fields };

describe("ledger.history", () => {
  it("lists every version newest first, with commit, writer, height and changed fields", async () => {
    const at = storage();
    const l = await openLedger("trail", { storage: at });
    const me = await whoami({ storage: at });
    const clocks: string[][] = [];
    clocks.push((await l.put({ _id: "t1", qty: 1, price: 5 })).clock);
    await l.put({ _id: "other", x: 1 });
    clocks.push((await l.put({ _id: "t1", qty: 2, price: 5 })).clock);
    clocks.push((await l.del("t1")).clock);
    clocks.push((await l.put({ _id: "t1", note: "again" })).clock);
    const history = await l.history("t1");
    expect(history.map(summary)).toEqual([
      { kind: "put", doc: { _id: "t1", note: "again" }, fields: ["note"] },
      { kind: "del" },
      {
        kind: "put",
        doc: { _id: "t1", qty: 2, price: 5 },
        fields: ["qty"],
      },
      {
        kind: "put",
        doc: { _id: "t1", qty: 1, price: 5 },
        fields: ["price", "qty"],
      },
    ]);
    // Each version's commit is the one that write made: the head right after it.
    expect(history.map((v) => [v.cid])).toEqual([...clocks].reverse());
    expect(history.map((v) => v.height)).toEqual([5, 4, 3, 1]);
    for (const v of history)
      if (v.kind !== "dropped") expect(v.writer).toBe(me);
    expect(await l.history("never")).toEqual([]);
    await l.close();
  });

  it("names each writer of concurrent versions, and opens only the commits that wrote the doc", async () => {
    const room = storage();
    const crypto = countingCrypto();
    const [sa, sb] = [storage(), storage()];
    const a = await openLedger("trail", { storage: sa, crypto });
    const b = await openLedger("trail", { storage: sb, key: a.key });
    for (let i = 0; i < 200; i++) await a.put({ _id: `noise-${i}`, i });
    await a.put({ _id: "trade", qty: 1, price: 5 });
    const ca = a.connect(room);
    const cb = b.connect(room);
    await ca.synced();
    await cb.synced();
    await a.put({ _id: "trade", qty: 2, price: 5 });
    await b.put({ _id: "trade", qty: 1, price: 6 });
    await ca.synced();
    await cb.synced();
    await ca.synced();
    expect(await a.get("trade")).toEqual({ _id: "trade", qty: 2, price: 6 });
    crypto.decrypts = 0;
    const history = await a.history("trade");
    expect(crypto.decrypts).toBe(3);
    const [wa, wb] = [
      await whoami({ storage: sa }),
      await whoami({ storage: sb }),
    ];
    expect(wa).not.toBe(wb);
    const byWriter = (w: string) =>
      history.filter((v) => v.kind === "put" && v.writer === w).map(summary);
    expect(byWriter(wb)).toEqual([
      {
        kind: "put",
        doc: { _id: "trade", qty: 1, price: 6 },
        fields: ["price"],
      },
    ]);
    expect(byWriter(wa)).toHaveLength(2);
    expect(history.map(summary).slice(0, 2)).toContainEqual({
      kind: "put",
      doc: { _id: "trade", qty: 1, price: 6 },
      fields: ["price"],
    });
    await a.close();
    await b.close();
  });

  it("lists versions whose commits compaction let go as dropped", async () => {
    const l = await openLedger("trail", { storage: storage() });
    const first = (await l.put({ _id: "t", v: 1 })).clock[0]!;
    await l.put({ _id: "t", v: 2 });
    const last = (await l.put({ _id: "t", v: 2, w: 0 })).clock[0]!;
    await l.compact();
    const history = await l.history("t");
    expect(history.map((v) => [v.kind, v.cid])).toEqual([
      ["put", last],
      ["dropped", expect.any(String)],
      ["dropped", first],
    ]);
    expect(history[1]).toMatchObject({ fields: ["v"] });
    expect(history[2]).not.toHaveProperty("fields");
    await l.close();
  });
});

describe("ledger.at", () => {
  it("shows the ledger as it was at every past clock (seeded)", async () => {
    const seed = testSeed(process.env.KILN_SEED);
    console.log(`audit-trail seed ${seed} (reproduce with KILN_SEED=${seed})`);
    const rnd = createRandom(seed);
    const l = await openLedger("past", { storage: storage() });
    const ids = ["a", "b", "c", "d"];
    const seen: { clock: string[]; docs: unknown; byN: unknown }[] = [];
    for (let step = 0; step < 30; step++) {
      const id = rnd.pick(ids);
      if (rnd.int(5) === 0 && (await l.has(id))) await l.del(id);
      else if (rnd.int(3) === 0)
        await l.bulk([
          { _id: id, n: rnd.int(4) },
          { _id: rnd.pick(ids), n: rnd.int(4), tag: "bulk" },
        ]);
      else await l.put({ _id: id, n: rnd.int(4), step });
      seen.push({
        clock: l.clock,
        docs: (await l.allDocs()).rows,
        byN: (await l.query("n", { includeDocs: false })).rows,
      });
    }
    for (const i of [0, rnd.int(30), rnd.int(30), 29]) {
      const past = await l.at(seen[i]!.clock);
      expect((await past.allDocs()).rows, `seed ${seed} step ${i}`).toEqual(
        seen[i]!.docs,
      );
      expect(
        (await past.query("n", { includeDocs: false })).rows,
        `seed ${seed} step ${i}`,
      ).toEqual(seen[i]!.byN);
      for (const row of seen[i]!.docs as { id: string; doc: unknown }[]) {
        expect(await past.get(row.id)).toEqual(row.doc);
        expect(await past.has(row.id)).toBe(true);
      }
    }
    await l.close();
  });

  it("merges a past clock of two heads as any replica did, and is read-only", async () => {
    const room = storage();
    const a = await openLedger("past", { storage: storage() });
    const b = await openLedger("past", { storage: storage(), key: a.key });
    await a.put({ _id: "trade", qty: 1, price: 5 });
    const ca = a.connect(room);
    const cb = b.connect(room);
    await ca.synced();
    await cb.synced();
    const ra = await a.put({ _id: "trade", qty: 2, price: 5 });
    const rb = await b.put({ _id: "trade", qty: 1, price: 6 });
    await ca.synced();
    await cb.synced();
    const both = [...ra.clock, ...rb.clock];
    await a.put({ _id: "trade", qty: 3, price: 6 });
    await a.put({ _id: "late", x: 1 });
    const past = await a.at(both);
    expect(past.clock).toEqual([...both].sort());
    expect(await past.get("trade")).toEqual({ _id: "trade", qty: 2, price: 6 });
    expect(await past.has("late")).toBe(false);
    expect((await past.changes([ra.clock[0]!])).rows).toEqual([
      { id: "trade", doc: { _id: "trade", qty: 2, price: 6 } },
    ]);
    const before = await a.at(ra.clock);
    expect(await before.get("trade")).toEqual({
      _id: "trade",
      qty: 2,
      price: 5,
    });
    await expect(past.put({ _id: "x" })).rejects.toBeInstanceOf(ReadOnlyError);
    await expect(past.bulk([])).rejects.toMatchObject({ code: "read-only" });
    await expect(past.del("trade")).rejects.toBeInstanceOf(ReadOnlyError);
    expect(await a.get("trade")).toEqual({ _id: "trade", qty: 3, price: 6 });
    await a.close();
    await b.close();
  });

  it("works on a reopened ledger, and the empty clock is the empty ledger", async () => {
    const at = storage();
    const l = await openLedger("past", { storage: at, checkpointEvery: 1 });
    const { clock } = await l.put({ _id: "x", v: 1 });
    await l.put({ _id: "x", v: 2 });
    await l.close();
    const again = await openLedger("past", { storage: at });
    expect(await (await again.at(clock)).get("x")).toEqual({ _id: "x", v: 1 });
    expect((await (await again.at([])).allDocs()).rows).toEqual([]);
    await again.close();
  });

  it("says which commit is gone once compaction let the history go", async () => {
    const l = await openLedger("past", { storage: storage() });
    const { clock: first } = await l.put({ _id: "x", v: 1 });
    const { clock: second } = await l.put({ _id: "x", v: 2 });
    await l.put({ _id: "x", v: 3 });
    await l.compact();
    // The head commit is kept, but the one under it is gone: every clock before is refused.
    for (const clock of [first, second, l.clock]) {
      const error = await l.at(clock).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HistoryGoneError);
      expect(error).toMatchObject({ code: "history-gone" });
    }
    await expect(l.at(second)).rejects.toMatchObject({ cid: second[0] });
    await expect(l.at(first)).rejects.toMatchObject({ cid: first[0] });
    await expect(l.at(["bafyreinotacommit"])).rejects.toBeInstanceOf(
      HistoryGoneError,
    );
    await expect(l.at("nope" as unknown as string[])).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await l.close();
  });
});

describe("history and at in a membered ledger", () => {
  /**
   * By hand: X creates the ledger and writes d = 1, admits W; then W writes d = 2 while X
   * removes W (concurrently). W's write is void: it counts for nothing, except at a clock
   * whose history holds it but not the removal.
   */
  async function removedWriterRoom() {
    const key = createLedgerKey(nodeCrypto);
    const x = await nodeSigning.importSigner(randomBytes(32));
    const w = await nodeSigning.importSigner(randomBytes(32));
    const url = storage();
    const g = await memoryGateway.open(memoryGateway.parse(new URL(url)));
    const seal = async (
      parents: CID[],
      h: number,
      ops: [string, Uint8Array][],
      by: typeof x,
      record?: Parameters<typeof encodeMembershipRecord>[0],
    ) => {
      const c = await sealBytes(
        nodeCrypto,
        key,
        parents,
        encodeEvent({ h, ops }),
        by,
        record ? { record: encodeMembershipRecord(record) } : {},
      );
      await g.putCommit("m", c.cid, c.bytes);
      return c.cid;
    };
    const c1 = await seal([], 1, [["d", encodeDocValue({ v: 1 })]], x, {
      op: "create",
    });
    const c2 = await seal([c1], 2, [], x, {
      op: "add",
      key: w.publicKey,
      role: "writer",
    });
    const c3 = await seal([c2], 3, [["d", encodeDocValue({ v: 2 })]], w);
    const c4 = await seal([c2], 3, [], x, { op: "remove", key: w.publicKey });
    await g.putHeads("m", { add: [c3, c4], remove: [] });
    await g.close();
    return {
      url,
      key: encodeLedgerKey(key),
      c1: String(c1),
      c3: String(c3),
      c4: String(c4),
    };
  }

  it("a removed writer's concurrent write counts for nothing, except at a clock before its removal", async () => {
    const { url, key, c1, c3, c4 } = await removedWriterRoom();
    // The commits arrive from a remote: the replica applies the membership rule to them.
    const l = await openLedger("m", { storage: storage(), key });
    await l.connect(url).synced();
    expect(await l.get("d")).toEqual({ _id: "d", v: 1 });
    expect(await (await l.at([c3, c4])).get("d")).toEqual({ _id: "d", v: 1 });
    expect(await (await l.at([c3])).get("d")).toEqual({ _id: "d", v: 2 });
    expect((await l.history("d")).map((v) => v.cid)).toEqual([c1]);
    await l.close();
  });
});
