// Golden fixtures guard the format (docs/format.md): the recorded commits must still be
// produced byte for byte, and still be readable. Regenerate only for an intended format
// change: node --import tsx test/fixtures/golden/generate.ts
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CID } from "multiformats/cid";
import { describe, expect, it } from "vitest";
import {
  FormatVersionError,
  encodeWriter,
  memoryGateway,
  nodeSigning,
  openLedger,
  verifyLedger,
} from "../src/index.js";
import {
  decodeCommitEnvelope,
  decodeEnvelope,
  encodeEnvelope,
} from "../src/blocks/envelope.js";
import type { Envelope } from "../src/blocks/envelope.js";
import { decodeMembershipRecord } from "../src/trust/membership-record.js";
import { decodeLedgerKey } from "../src/blocks/ledger-key.js";
import { nodeCrypto } from "../src/blocks/node-crypto.js";
import { decodeValue } from "../src/blocks/codec.js";
import { openCommit } from "../src/ledger/commit-reader.js";
import { fromBase64url, toBase64url } from "../src/util/bytes.js";
import {
  GOLDEN_KEY,
  GOLDEN_WRITER,
  treeDocs,
  useGoldenWriter,
  writeScenario,
} from "./fixtures/golden/scenario.js";

const openMemory = (url: string) =>
  memoryGateway.open(memoryGateway.parse(new URL(url)));
import { readCheckpoint } from "./fixtures/stores.js";

interface Golden {
  key: string;
  clocks: string[][];
  commits: Record<string, string>;
  treeClock: string[];
  treeRoot: string;
}

const read = (file: string) =>
  JSON.parse(
    readFileSync(join(import.meta.dirname, "fixtures/golden", file), "utf8"),
  ) as Golden;
const golden = read("golden.json");
/** Commits of format v1 (the previous format): refused, never misread. */
const goldenV1 = read("golden-v1.json");

let rooms = 0;
const room = (name: string) =>
  `memory://golden-${name}-${process.pid}-${rooms++}`;

/** A memory store holding some recorded commits under their last clock. */
async function storeOf(recorded: Golden): Promise<string> {
  const url = room("store");
  const gateway = await memoryGateway.open(memoryGateway.parse(new URL(url)));
  for (const [cid, bytes] of Object.entries(recorded.commits))
    await gateway.putCommit("golden", CID.parse(cid), fromBase64url(bytes)!);
  await gateway.putHeads("golden", {
    add: recorded.clocks.at(-1)!.map((c) => CID.parse(c)),
    remove: [],
  });
  await gateway.local!.putKey("golden", recorded.key);
  await gateway.close();
  return url;
}

describe("golden fixtures", () => {
  it("the scenario still seals to the recorded commits, byte for byte", async () => {
    const room = `memory://golden-check-${Math.random().toString(36).slice(2)}`;
    await useGoldenWriter(openMemory, room);
    const ledger = await openLedger("golden", {
      storage: room,
      key: GOLDEN_KEY,
      members: true,
    });
    expect(await writeScenario(ledger)).toEqual(golden.clocks);
    const gateway = await memoryGateway.open(
      memoryGateway.parse(new URL(room)),
    );
    const made: Record<string, string> = {};
    for (const cid of await gateway.local!.listCommits("golden"))
      made[cid.toString()] = toBase64url(
        (await gateway.getCommit("golden", cid))!,
      );
    expect(made).toEqual(golden.commits);
    await ledger.close();
    await gateway.close();
  });

  it("the doc tree of 1000 docs has the recorded root (in the checkpoint)", async () => {
    const url = room("tree");
    await useGoldenWriter(openMemory, url);
    const ledger = await openLedger("tree", { storage: url, key: GOLDEN_KEY });
    await ledger.bulk(treeDocs());
    expect(ledger.clock).toEqual(golden.treeClock);
    await ledger.close();
    const checkpoint = await readCheckpoint(url, "tree", GOLDEN_KEY);
    expect(checkpoint!.root!.toString()).toBe(golden.treeRoot);
  });

  it("a commit holds its event and the doc values, and an edit names the fields it changed", async () => {
    const key = decodeLedgerKey(golden.key);
    const last = golden.clocks.at(-1)![0]!;
    const opened = await openCommit(
      nodeCrypto,
      key,
      CID.parse(last),
      fromBase64url(golden.commits[last]!)!,
    );
    expect(opened.event.height).toBe(5);
    expect(opened.event.ops).toHaveLength(1);
    const [id, , fields] = opened.event.ops[0]!;
    expect(id).toBe("order-2");
    expect(fields).toEqual(["amount", "note", "open"]);
    expect(decodeValue(opened.docs.get("order-2")!, "doc")).toEqual({
      customer: "globex",
      amount: 8,
    });
    // The first put of a doc carries it whole (no field list); a deletion carries null.
    const first = await openCommit(
      nodeCrypto,
      key,
      CID.parse(golden.clocks[0]![0]!),
      fromBase64url(golden.commits[golden.clocks[0]![0]!]!)!,
    );
    expect(first.event.ops[0]).toHaveLength(2);
    const del = golden.clocks[3]![0]!;
    const deletion = await openCommit(
      nodeCrypto,
      key,
      CID.parse(del),
      fromBase64url(golden.commits[del]!)!,
    );
    expect(deletion.event.ops).toEqual([["order-1", null]]);
  });

  it("a v1 store is refused with a FormatVersionError, and left as it was", async () => {
    const url = await storeOf(goldenV1);
    const opening = openLedger("golden", { storage: url });
    await expect(opening).rejects.toBeInstanceOf(FormatVersionError);
    await expect(opening).rejects.toMatchObject({
      code: "format-version",
      message: expect.stringContaining(
        "commit format v1 is no longer supported",
      ) as unknown as string,
    });
    const gateway = await memoryGateway.open(memoryGateway.parse(new URL(url)));
    expect((await gateway.getHeads("golden")).map(String)).toEqual(
      goldenV1.clocks.at(-1),
    );
    for (const [cid, bytes] of Object.entries(goldenV1.commits))
      expect(
        toBase64url((await gateway.getCommit("golden", CID.parse(cid)))!),
      ).toBe(bytes);
    await gateway.close();
  });

  it("envelopes: v1 and unknown versions are refused; every commit is signed; field sizes are checked", () => {
    for (const bytes of Object.values(goldenV1.commits))
      expect(() => decodeEnvelope(fromBase64url(bytes)!, "v1")).toThrow(
        FormatVersionError,
      );
    // The first commit carries the `create` record (membered ledger), in the clear.
    const first = golden.clocks[0]![0]!;
    const created = decodeCommitEnvelope(
      fromBase64url(golden.commits[first]!)!,
      first,
    );
    expect(decodeMembershipRecord(created.m!, "m")).toEqual({ op: "create" });
    expect(created.k).toBeUndefined();
    for (const [cid, text] of Object.entries(golden.commits)) {
      const envelope = decodeCommitEnvelope(fromBase64url(text)!, cid);
      expect(encodeEnvelope(envelope)).toEqual(fromBase64url(text));
      expect(envelope.w).toHaveLength(32);
      expect(envelope.s).toHaveLength(64);
      if (cid !== first) expect(envelope.m).toBeUndefined();
    }
    const w = created.w;
    const bare: Envelope = { ...created };
    delete bare.w;
    delete bare.s;
    delete bare.m;
    const s = new Uint8Array(64).fill(9);
    expect(() => decodeCommitEnvelope(encodeEnvelope(bare), "c")).toThrow(
      expect.objectContaining({
        code: "signature",
        problem: "unsigned",
      }) as Error,
    );
    expect(() =>
      decodeCommitEnvelope(encodeEnvelope({ ...bare, w }), "c"),
    ).toThrow(expect.objectContaining({ code: "signature" }) as Error);
    expect(() =>
      decodeEnvelope(encodeEnvelope({ ...bare, v: 3 }), "v3"),
    ).toThrow(FormatVersionError);
    for (const bad of [
      { ...bare, w: new Uint8Array(31) },
      { ...bare, w, s: new Uint8Array(63) },
      { ...bare, s },
      { ...bare, w, s, k: new Uint8Array(7) },
    ])
      expect(() => decodeEnvelope(encodeEnvelope(bad), "bad")).toThrow(
        expect.objectContaining({ code: "corrupt" }) as unknown,
      );
  });

  it("the recorded commits still open and read", async () => {
    const ledger = await openLedger("golden", {
      storage: await storeOf(golden),
      key: golden.key,
    });
    expect(ledger.clock).toEqual(golden.clocks.at(-1));
    expect((await ledger.allDocs()).rows).toEqual([
      { id: "order-2", doc: { _id: "order-2", customer: "globex", amount: 8 } },
      {
        id: "order-3",
        doc: { _id: "order-3", nested: { deep: [1, { x: "é" }] } },
      },
      {
        id: "order-4",
        doc: { _id: "order-4", bytes: new Uint8Array([0, 1, 254, 255]) },
      },
    ]);
    await expect(ledger.get("order-1")).rejects.toMatchObject({
      code: "not-found",
    });
    expect((await ledger.changes()).rows.map((r) => r.id)).toEqual([
      "order-3",
      "order-4",
      "order-1",
      "order-2",
    ]);
    await ledger.close();
  });

  it("the recorded commits verify, every one signed by the golden writer, and their history names it", async () => {
    const storage = await storeOf(golden);
    const report = await verifyLedger("golden", { storage, key: golden.key });
    expect(report).toMatchObject({
      failures: [],
      commits: Object.keys(golden.commits).length,
      signed: Object.keys(golden.commits).length,
      decrypted: Object.keys(golden.commits).length,
      membership: "checked",
    });
    const writer = encodeWriter(
      (await nodeSigning.importSigner(fromBase64url(GOLDEN_WRITER)!)).publicKey,
    );
    const ledger = await openLedger("golden", { storage, key: golden.key });
    const history = await ledger.history("order-2");
    expect(
      history.map((v) => [v.kind, v.cid, v.kind === "dropped" ? "" : v.writer]),
    ).toEqual([
      ["put", golden.clocks[4]![0], writer],
      ["put", golden.clocks[1]![0], writer],
    ]);
    expect(history[0]).toMatchObject({ fields: ["amount", "note", "open"] });
    const past = await ledger.at(golden.clocks[2]!);
    expect(await past.get("order-2")).toEqual({
      _id: "order-2",
      customer: "globex",
      amount: 7.5,
      open: true,
      note: null,
    });
    expect(await past.has("order-1")).toBe(true);
    await ledger.close();
  });
});
