// History the server lets go (publish with retain "snapshot"), through the LedgerService on a
// memory backend: covered commits lose their bytes and keep their meta, pulls that need them
// start from the snapshot, pushes on top of them are accepted.
import { describe, expect, it } from "vitest";
import { CID } from "multiformats/cid";
import { guardBackend } from "./backend-guard.js";
import type { StoredCommit } from "./backend.js";
import { createMemoryBackend } from "./backends/memory-backend.js";
import { makeTestChain, makeTestCommit } from "./backends/test-commits.js";
import { LedgerService } from "./ledger-service.js";
import { dropCovered } from "./ledger-retain.js";
import * as dagCbor from "@ipld/dag-cbor";
import { sha256 } from "multiformats/hashes/sha2";

const LEDGER = "retained";

function service(): LedgerService {
  return new LedgerService({
    backend: guardBackend(createMemoryBackend()),
    secret: undefined,
    maxMessage: 1 << 20,
    maxCommits: 1000,
    clock: () => 0,
    transports: () => ["ws"],
    pushBytesPerSecond: 1 << 30,
    pushBurst: 1 << 30,
  });
}

const texts = (cids: readonly CID[]) => cids.map(String);

async function pushed(s: LedgerService, commits: StoredCommit[]) {
  await s.push(
    {
      t: "push",
      id: 1,
      ledger: LEDGER,
      commits: commits.map((c) => [c.cid, c.bytes] as [CID, Uint8Array]),
    },
    undefined,
  );
}

async function publish(s: LedgerService, heads: CID[], retain: boolean) {
  const snapshot = await makeTestCommit(heads, 500);
  const ack = await s.publishSnapshot({
    t: "publish",
    id: 2,
    ledger: LEDGER,
    snapshot: [snapshot.cid, snapshot.bytes],
    ...(retain ? { retain: "snapshot" as const } : {}),
  });
  return { snapshot, ack };
}

describe("retain: snapshot", () => {
  it("drops what the snapshot covers and starts clients that need it from the snapshot", async () => {
    const s = service();
    const chain = await makeTestChain(6);
    await pushed(s, chain);
    const at = chain[3]!.cid;
    const { snapshot, ack } = await publish(s, [at], true);
    expect(ack.stored).toBe(1);
    const covered = chain.slice(0, 4).map((c) => c.cid);
    expect(await s.backend.getCommits(LEDGER, covered)).toEqual(
      covered.map(() => undefined),
    );
    const metas = await s.backend.getMeta(LEDGER, covered);
    expect(metas.map((m) => [m?.height, m?.dropped])).toEqual([
      [1, true],
      [2, true],
      [3, true],
      [4, true],
    ]);

    // A new replica, and one that has only commits the server let go of: the snapshot and
    // the two commits after it.
    for (const have of [[], [chain[1]!.cid]]) {
      const d = await s.difference(LEDGER, have, true);
      expect(d.snapshot?.cid.toString()).toBe(snapshot.cid.toString());
      expect(texts(d.missing)).toEqual(texts([chain[4]!.cid, chain[5]!.cid]));
    }
    // Without offering to start from a snapshot: refused, naming why.
    await expect(
      s.difference(LEDGER, [chain[1]!.cid], false),
    ).rejects.toMatchObject({ reason: "history-gone" });
    // A replica at or past the snapshot is served as before, without it.
    const d = await s.difference(LEDGER, [chain[4]!.cid], true);
    expect(d.snapshot).toBeUndefined();
    expect(texts(d.missing)).toEqual(texts([chain[5]!.cid]));

    // A push on top of dropped history is accepted.
    const late = await makeTestCommit([chain[1]!.cid], 300);
    await pushed(s, [late]);
    expect(texts(await s.backend.getHeads(LEDGER)).sort()).toEqual(
      texts([chain[5]!.cid, late.cid]).sort(),
    );
    // A snapshot that does not cover the dropped history does not replace the kept one;
    // one that covers it does, and retains what it covers in turn.
    expect((await publish(s, [late.cid], true)).ack.stored).toBe(0);
    const merge = await makeTestCommit([chain[5]!.cid, late.cid], 300);
    await pushed(s, [merge]);
    expect((await publish(s, [merge.cid], true)).ack.stored).toBe(1);
    expect(
      (await s.backend.getCommits(LEDGER, [late.cid, chain[5]!.cid])).every(
        (b) => b === undefined,
      ),
    ).toBe(true);
  });

  it("drops nothing without retain", async () => {
    const s = service();
    const chain = await makeTestChain(3);
    await pushed(s, chain);
    await publish(s, [chain[2]!.cid], false);
    const bytes = await s.backend.getCommits(
      LEDGER,
      chain.map((c) => c.cid),
    );
    expect(bytes.every((b) => b !== undefined)).toBe(true);
    expect(
      (await s.difference(LEDGER, [chain[0]!.cid], true)).snapshot,
    ).toBeUndefined();
  });
});

describe("dropCovered", () => {
  it("never drops a commit that carries a membership record", async () => {
    const backend = createMemoryBackend();
    const [root] = await makeTestChain(1);
    // An envelope with `m` in the clear, as the trust layer writes one (opaque here).
    const bytes = new Uint8Array(
      dagCbor.encode({
        v: 2,
        iv: new Uint8Array(12),
        data: new Uint8Array(40),
        parents: [root!.cid],
        w: new Uint8Array(32),
        s: new Uint8Array(64),
        m: new Uint8Array([1, 2, 3]),
      }),
    );
    const member: StoredCommit = {
      cid: CID.createV1(0x71, await sha256.digest(bytes)),
      bytes,
      parents: [root!.cid],
    };
    const top = await makeTestCommit([member.cid], 300);
    await backend.putCommits(LEDGER, [root!, member, top]);
    expect(await dropCovered(backend, LEDGER, [top.cid])).toBe(2);
    const held = await backend.getCommits(LEDGER, [
      root!.cid,
      member.cid,
      top.cid,
    ]);
    expect(held.map((b) => b?.length)).toEqual([
      undefined,
      bytes.length,
      undefined,
    ]);
    // A second retain over the same history finds nothing more to drop.
    expect(await dropCovered(backend, LEDGER, [top.cid])).toBe(0);
  });
});
