// Portable ledgers: exportLedger writes a CARv1 that @ipld/car's reader accepts with every
// block's CID matching its bytes; importLedger into an empty storage gives the same heads and,
// with the key, the same docs — also for a compacted ledger whose early history is gone.
import { Readable } from "node:stream";
import { CarReader } from "@ipld/car/reader";
import { sha256 } from "multiformats/hashes/sha2";
import { afterEach, describe, expect, it } from "vitest";
import { exportLedger, importLedger, openLedger } from "../src/index.js";
import type { Ledger, Progress } from "../src/index.js";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

let rooms = 0;
const room = () => `memory://portable-${process.pid}-${++rooms}`;

async function open(name: string, storage: string, key?: string) {
  const ledger = await openLedger(name, {
    storage,
    ...(key ? { key } : {}),
  });
  cleanup.push(() => ledger.close());
  return ledger;
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of stream) parts.push(p);
  return Buffer.concat(parts);
}

/** The bytes as a stream of `size`-byte chunks. */
function chunks(bytes: Uint8Array, size = 1000): AsyncIterable<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size)
    parts.push(bytes.subarray(at, at + size));
  return Readable.from(parts);
}

async function fill(ledger: Ledger): Promise<void> {
  for (let i = 0; i < 30; i++) await ledger.put({ _id: `d${i}`, i, tag: "x" });
  await ledger.bulk([{ _id: "b1" }, { _id: "b2", n: 2 }]);
  await ledger.del("d7");
  await ledger.put({ _id: "d3", i: 33 });
}

describe("exportLedger / importLedger", () => {
  it("writes a CAR whose roots are the heads and whose every block matches its CID", async () => {
    const a = await open("orders", room());
    await fill(a);
    const progress: Progress[] = [];
    const car = await collect(
      exportLedger(a, { onProgress: (p) => progress.push(p) }),
    );
    const reader = await CarReader.fromBytes(car);
    expect((await reader.getRoots()).map(String).sort()).toEqual(
      [...a.clock].sort(),
    );
    let blocks = 0;
    for await (const { cid, bytes } of reader.blocks()) {
      blocks++;
      expect(cid.multihash.code).toBe(sha256.code);
      expect(Buffer.from((await sha256.digest(bytes)).digest)).toEqual(
        Buffer.from(cid.multihash.digest),
      );
    }
    // The manifest, the snapshot and 33 commits.
    expect(blocks).toBe(35);
    expect(progress.at(-1)).toEqual({ phase: "export", done: 34, total: 34 });
    expect(progress.map((p) => p.done)).toEqual(
      Array.from({ length: 34 }, (_, i) => i + 1),
    );
  });

  it("imports into an empty storage: the same heads, and with the key the same docs", async () => {
    const a = await open("orders", room());
    await fill(a);
    const car = await collect(exportLedger(a));
    const target = room();
    const progress: Progress[] = [];
    const result = await importLedger("orders", chunks(car), {
      storage: target,
      key: a.key,
      onProgress: (p) => progress.push(p),
    });
    expect(result.heads).toEqual([...a.clock].sort());
    expect(result.commits).toBe(33);
    expect(progress.at(-1)).toEqual({ phase: "import", done: 34, total: 34 });
    const b = await open("orders", target);
    expect([...b.clock].sort()).toEqual([...a.clock].sort());
    expect((await b.allDocs()).rows).toEqual((await a.allDocs()).rows);
    expect(await b.changes()).toEqual(await a.changes());
    // It goes on: a write on the import.
    await b.put({ _id: "after" });
    expect((await b.get("after"))._id).toBe("after");
  });

  it("carries a compacted ledger: the snapshot stands for the history compaction dropped", async () => {
    const a = await open("orders", room());
    await fill(a);
    const steps: Progress[] = [];
    await a.compact({ onProgress: (p) => steps.push(p) });
    expect(steps).toEqual(
      [0, 1, 2, 3].map((done) => ({ phase: "compact", done, total: 3 })),
    );
    await a.put({ _id: "late", n: 1 });
    const car = await collect(exportLedger(a));
    const target = room();
    await importLedger("orders", chunks(car, 333), {
      storage: target,
      key: a.key,
    });
    const b = await open("orders", target);
    expect([...b.clock].sort()).toEqual([...a.clock].sort());
    expect((await b.allDocs()).rows).toEqual((await a.allDocs()).rows);
  });

  it("imports without the key, and a later open with the key reads the docs", async () => {
    const a = await open("orders", room());
    await fill(a);
    const car = await collect(exportLedger(a));
    const target = room();
    const result = await importLedger("orders", chunks(car), {
      storage: target,
    });
    expect(result.heads).toEqual([...a.clock].sort());
    await expect(
      openLedger("orders", { storage: target }),
    ).rejects.toMatchObject({ code: "missing-key" });
    const b = await open("orders", target, a.key);
    expect((await b.allDocs()).rows).toEqual((await a.allDocs()).rows);
  });

  it("refuses a storage that holds the ledger already, and changes nothing there", async () => {
    const a = await open("orders", room());
    await fill(a);
    const car = await collect(exportLedger(a));
    const target = room();
    const existing = await open("orders", target);
    await existing.put({ _id: "mine" });
    const clock = existing.clock;
    await existing.close();
    await expect(
      importLedger("orders", chunks(car), { storage: target, key: a.key }),
    ).rejects.toMatchObject({ code: "invalid-argument" });
    const again = await open("orders", target);
    expect(again.clock).toEqual(clock);
    expect((await again.allDocs()).rows.map((r) => r.id)).toEqual(["mine"]);
  });

  it("refuses a damaged or foreign CAR with a typed error and leaves nothing behind", async () => {
    const a = await open("orders", room());
    await fill(a);
    const car = await collect(exportLedger(a));
    // One flipped byte near the end lands in a commit's ciphertext.
    const flipped = new Uint8Array(car); // a copy (Buffer.slice would be a view)
    flipped[flipped.length - 10]! ^= 1;
    const target = room();
    await expect(
      importLedger("orders", chunks(flipped), { storage: target }),
    ).rejects.toMatchObject({ code: "integrity" });
    await expect(
      importLedger("orders", chunks(new Uint8Array([1, 2, 3])), {
        storage: target,
      }),
    ).rejects.toMatchObject({ code: "corrupt" });
    // Under the wrong key: refused by the check that opens it, and removed.
    const other = await open("other", room());
    await expect(
      importLedger("orders", chunks(car), { storage: target, key: other.key }),
    ).rejects.toMatchObject({ code: "decrypt" });
    // The storage is as empty as before: a good import now succeeds.
    await importLedger("orders", chunks(car), { storage: target, key: a.key });
    const b = await open("orders", target);
    expect((await b.allDocs()).rows).toEqual((await a.allDocs()).rows);
  });
});
