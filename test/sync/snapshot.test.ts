// Snapshots through a real SyncServer on a loopback port: a replica publishes its state, a new
// replica starts from it plus the commits after it, and one that does not decrypt is refused
// with the replica falling back to commits.
import { afterEach, describe, expect, it } from "vitest";
import { openBytes, sealBytes } from "../../src/blocks/commit.js";
import { cidFor } from "../../src/blocks/cid.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/blocks/envelope.js";
import { createLedgerKey } from "../../src/blocks/ledger-key.js";
import { nodeCrypto } from "../../src/blocks/node-crypto.js";
import { openLedger } from "../../src/index.js";
import type { ChangesInfo, Connection, Ledger } from "../../src/index.js";
import type { Backend } from "../../src/server/backend.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { createSyncServer } from "../../src/server/index.js";
import { nodeSigning } from "../../src/trust/node-signing.js";
import { CID } from "multiformats/cid";

const FAST = { backoff: { baseMs: 10, maxMs: 100 }, pollWaitMs: 2_000 };

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A memory backend that counts the commits the server reads to answer pulls. */
function countingBackend(): { backend: Backend; served: () => number } {
  const memory = createMemoryBackend();
  let served = 0;
  return {
    backend: {
      ...memory,
      putCommits: (l, c, o) => memory.putCommits(l, c, o),
      getCommits: (l, cids) => {
        served += cids.length;
        return memory.getCommits(l, cids);
      },
      getMeta: (l, c) => memory.getMeta(l, c),
      getHeads: (l) => memory.getHeads(l),
      putSnapshot: (l, s) => memory.putSnapshot(l, s),
      getSnapshot: (l) => memory.getSnapshot(l),
      watch: (l, f) => memory.watch(l, f),
      close: () => memory.close(),
    },
    served: () => served,
  };
}

async function serve(backend: Backend): Promise<string> {
  const server = createSyncServer({ backend });
  const listener = await server.listen({ port: 0, host: "127.0.0.1" });
  cleanup.push(() => server.close());
  return listener.url.replace(/\/$/, "");
}

async function open(
  name: string,
  key?: string,
  storage = "memory://",
): Promise<Ledger> {
  const ledger = await openLedger(name, {
    storage,
    ...(key ? { key } : {}),
  });
  cleanup.push(() => ledger.close());
  return ledger;
}

/** synced(), failing at the first error the connection reports. */
function synced(c: Connection): Promise<void> {
  return Promise.race([
    c.synced(),
    new Promise<never>((_, reject) => c.on("error", reject)),
  ]);
}

describe.each(["ws", "http"])("snapshots over %s", (transport) => {
  it("a new replica starts from the published snapshot plus the commits after it", async () => {
    const { backend, served } = countingBackend();
    const url = `${await serve(backend)}?transport=${transport}`;
    const a = await open("orders");
    const ca = a.connect(url, FAST);
    for (let i = 0; i < 40; i++) await a.put({ _id: `d${i}`, i });
    await a.del("d3");
    const published = await ca.publishSnapshot();
    expect([...published.heads].sort()).toEqual([...a.clock].sort());
    for (let i = 40; i < 45; i++) await a.put({ _id: `d${i}`, i });
    await synced(ca);

    const before = served();
    const room = `memory://snapshot-${transport}-${Date.now()}`;
    const b = await open("orders", a.key, room);
    const notices: ChangesInfo[] = [];
    b.subscribe((rows, info) => notices.push(info));
    const cb = b.connect(url, FAST);
    await synced(cb);
    // Subscribers hear of the adoption once, as a reset, not as a row per doc.
    expect(notices[0]).toEqual({ reset: true });
    // Only the five commits after the snapshot moved as commits (of 46). Over HTTP the
    // long-poll and the pull synced() asks for start together, and both may carry them.
    const moved = served() - before;
    expect(transport === "ws" ? [5] : [5, 10]).toContain(moved);
    expect([...b.clock].sort()).toEqual([...a.clock].sort());
    expect((await b.allDocs()).rows).toEqual((await a.allDocs()).rows);
    await expect(b.get("d3")).rejects.toMatchObject({ code: "not-found" });

    // The adopted replica goes on like any other: its writes reach the first one.
    await b.put({ _id: "from-b" });
    await synced(cb);
    await synced(ca);
    expect((await a.get("from-b"))._id).toBe("from-b");

    // Reopened, it holds the snapshot's state and the commits after it.
    const rows = (await b.allDocs()).rows;
    const clock = [...b.clock].sort();
    await b.close();
    const again = await open("orders", undefined, room);
    expect([...again.clock].sort()).toEqual(clock);
    expect((await again.allDocs()).rows).toEqual(rows);
  });
});

describe("the automatic rule", () => {
  it("publishes a snapshot after each automatic checkpoint while a SyncServer is live", async () => {
    const { backend, served } = countingBackend();
    let onSnapshot!: () => void;
    const published = new Promise<void>((resolve) => (onSnapshot = resolve));
    const watched: Backend = {
      ...backend,
      putSnapshot: async (l, snap) => {
        await backend.putSnapshot(l, snap);
        onSnapshot();
      },
    };
    const url = `${await serve(watched)}?transport=ws`;
    const a = await openLedger("auto", {
      storage: "memory://",
      checkpointEvery: 10,
    });
    cleanup.push(() => a.close());
    const errors: unknown[] = [];
    a.on("error", (e) => errors.push(e));
    const ca = a.connect(url, FAST);
    await synced(ca);
    for (let i = 0; i < 12; i++) await a.put({ _id: `d${i}`, i });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      published,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("no snapshot published within 10 s")),
          10_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    expect(errors).toEqual([]);
    const held = await backend.getSnapshot("auto");
    expect(held?.heads.length).toBeGreaterThan(0);

    // A new replica starts from it: fewer commits move than were written.
    await synced(ca);
    const before = served();
    const b = await open("auto", a.key);
    await synced(b.connect(url, FAST));
    expect(served() - before).toBeLessThan(12);
    expect((await b.allDocs()).rows).toEqual((await a.allDocs()).rows);
  });
});

describe("a snapshot that does not verify", () => {
  it("is refused with an error, and the new replica falls back to every commit", async () => {
    const { backend, served } = countingBackend();
    const url = `${await serve(backend)}?transport=ws`;
    const a = await open("forged");
    const ca = a.connect(url, FAST);
    for (let i = 0; i < 10; i++) await a.put({ _id: `d${i}`, i });
    await synced(ca);
    // Sealed under another key, on the right heads: the server cannot tell.
    const heads = a.clock.map((h) => CID.parse(h));
    const forged = await sealBytes(
      nodeCrypto,
      createLedgerKey(nodeCrypto),
      heads,
      new Uint8Array(64),
      await nodeSigning.importSigner(new Uint8Array(32).fill(3)),
    );
    await backend.putSnapshot("forged", {
      cid: forged.cid,
      bytes: forged.bytes,
      heads,
      height: 10,
    });

    const before = served();
    const b = await open("forged", a.key);
    const cb = b.connect(url, FAST);
    const errors: Error[] = [];
    cb.on("error", (e) => errors.push(e));
    await cb.synced();
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual([
      "decrypt",
    ]);
    expect(served() - before).toBe(10);
    expect((await b.allDocs()).rows).toEqual((await a.allDocs()).rows);
  });

  it("is refused when its bytes are not a snapshot, and later pulls ask for commits only", async () => {
    const { backend } = countingBackend();
    const url = `${await serve(backend)}?transport=http`;
    const a = await open("garbled");
    const ca = a.connect(url, FAST);
    for (let i = 0; i < 3; i++) await a.put({ _id: `d${i}`, i });
    await synced(ca);
    // Sealed under the right key, but not a snapshot's layout.
    const heads = a.clock.map((h) => CID.parse(h));
    const { keyBytes } = await keyOf(a);
    const garbled = await sealBytes(
      nodeCrypto,
      keyBytes,
      heads,
      new Uint8Array([1, 2, 3]),
      await nodeSigning.importSigner(new Uint8Array(32).fill(3)),
    );
    await backend.putSnapshot("garbled", {
      cid: garbled.cid,
      bytes: garbled.bytes,
      heads,
      height: 3,
    });
    const b = await open("garbled", a.key);
    const cb = b.connect(url, FAST);
    const errors: Error[] = [];
    cb.on("error", (e) => errors.push(e));
    await cb.synced();
    const seen = errors.length;
    await cb.synced();
    expect(errors.length).toBe(seen);
    // Over HTTP the long-poll and the first pull may both have been offered it: each
    // refusal is reported; none comes after (later pulls do not ask).
    const codes = errors.map((e) => (e as { code?: string }).code);
    expect(codes.length).toBeGreaterThanOrEqual(1);
    expect(new Set(codes)).toEqual(new Set(["corrupt"]));
    expect((await b.allDocs()).rows).toEqual((await a.allDocs()).rows);
  });
});

describe("an unsigned or badly signed snapshot", () => {
  it("is refused by a new replica, which falls back to commits", async () => {
    const { backend } = countingBackend();
    const url = `${await serve(backend)}?transport=ws`;
    const a = await openLedger("unsigned", { storage: "memory://" });
    cleanup.push(() => a.close());
    const ca = a.connect(url, FAST);
    for (let i = 0; i < 5; i++) await a.put({ _id: `d${i}`, i });
    await ca.publishSnapshot();
    // The published snapshot with its signature taken out (the writer stays: it is bound
    // into the ciphertext).
    const signed = (await backend.getSnapshot("unsigned"))!;
    const rest = decodeEnvelope(signed.bytes, "snapshot");
    delete rest.s;
    const unsignedBytes = encodeEnvelope(rest);
    const unsigned = {
      ...signed,
      cid: cidFor(nodeCrypto, unsignedBytes),
      bytes: unsignedBytes,
    };
    await backend.putSnapshot("unsigned", unsigned);

    const b = await open("unsigned", a.key);
    const cb = b.connect(url, FAST);
    const errors: Error[] = [];
    cb.on("error", (e) => errors.push(e));
    await cb.synced();
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual([
      "snapshot",
    ]);
    expect((await b.allDocs()).rows).toEqual((await a.allDocs()).rows);

    // The same state sealed with a signature that does not verify: refused too.
    const { keyBytes } = await keyOf(a);
    const opened = await openBytes(
      nodeCrypto,
      keyBytes,
      unsigned.cid,
      unsigned.bytes,
      "checkpoint",
    );
    const liar = await nodeSigning.importSigner(nodeCrypto.randomBytes(32));
    const forged = await sealBytes(
      nodeCrypto,
      keyBytes,
      opened.parents,
      opened.plaintext,
      { publicKey: liar.publicKey, sign: () => liar.sign(new Uint8Array(32)) },
    );
    await backend.putSnapshot("unsigned", {
      cid: forged.cid,
      bytes: forged.bytes,
      heads: opened.parents,
      height: 5,
    });
    const c = await open("unsigned", a.key);
    const cc = c.connect(url, FAST);
    const cErrors: Error[] = [];
    cc.on("error", (e) => cErrors.push(e));
    await cc.synced();
    expect(cErrors.map((e) => (e as { code?: string }).code)).toEqual([
      "signature",
    ]);
    expect((await c.allDocs()).rows).toEqual((await a.allDocs()).rows);
  });
});

async function keyOf(ledger: Ledger): Promise<{ keyBytes: Uint8Array }> {
  const { decodeLedgerKey } = await import("../../src/blocks/ledger-key.js");
  return { keyBytes: decodeLedgerKey(ledger.key) };
}
