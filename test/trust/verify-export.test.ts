// `kiln verify <file.car>` checks a ledger export without storing it, and `--key` also
// decrypts every commit: a flipped byte anywhere in a commit (its signature included) is
// named by the commit's CID.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarIndexer } from "@ipld/car/indexer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sealBytes } from "../../src/blocks/commit.js";
import { decodeEnvelope } from "../../src/blocks/envelope.js";
import {
  createLedgerKey,
  decodeLedgerKey,
} from "../../src/blocks/ledger-key.js";
import { nodeCrypto } from "../../src/blocks/node-crypto.js";
import { encodeEvent } from "../../src/crdt/event.js";
import { runCli } from "../fixtures/run-cli.js";
import { memoryGateway } from "../../src/gateways/memory-gateway.js";
import { exportLedger, nodeSigning, openLedger } from "../../src/index.js";
import { createRandom, testSeed } from "../../src/util/random.js";

let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kiln-verify-car-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (args: string[]) => runCli(args);

async function collect(chunks: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** An export of a signed ledger of 6 commits (one a bulk) and a snapshot. */
async function exported() {
  const storage = `memory://verify-car-${process.pid}-${n++}`;
  const ledger = await openLedger("orders", { storage });
  for (let i = 0; i < 3; i++) await ledger.put({ _id: `o${i}`, amount: i });
  await ledger.bulk([
    { _id: "b1", x: 1 },
    { _id: "b2", x: 2 },
  ]);
  await ledger.close(); // writes a checkpoint: the export holds a snapshot
  const again = await openLedger("orders", { storage });
  await again.put({ _id: "o1", amount: 10 });
  await again.del("o2");
  const car = await collect(exportLedger(again));
  const key = again.key;
  await again.close();
  return { car, key, storage };
}

async function carFile(bytes: Uint8Array) {
  const file = join(dir, `export-${n++}.car`);
  await writeFile(file, bytes);
  return file;
}

describe("kiln verify <file.car>", () => {
  it("passes a sound export, without the key and with it", async () => {
    const { car, key } = await exported();
    const file = await carFile(car);
    const plain = await run(["verify", file]);
    expect(plain.err).toEqual([]);
    expect(plain.code).toBe(0);
    expect(plain.out[0]).toBe(
      `verified ${file} (ledger orders): 6 commits (6 signed, without the key), 1 heads`,
    );
    // --key=…: a key may start with "-", which parseArgs refuses as a separate argument.
    const keyed = await run(["verify", file, `--key=${key}`]);
    expect(keyed.code).toBe(0);
    expect(keyed.out[0]).toContain(
      "6 commits (6 signed, 6 decrypted with the key)",
    );
    const wrong = await run([
      "verify",
      file,
      `--key=${(await openLedger("x", { storage: "memory://" })).key}`,
    ]);
    expect(wrong.code).toBe(1);
    expect(
      wrong.err.filter((l) => l.includes("does not decrypt")),
    ).toHaveLength(7);
  });

  it("names the commit when one byte of a commit or its signature is flipped (seeded positions)", async () => {
    const seed = testSeed(process.env.KILN_SEED);
    console.log(
      `verify-export seed ${seed} (reproduce with KILN_SEED=${seed})`,
    );
    const rnd = createRandom(seed);
    const { car } = await exported();
    const indexer = await CarIndexer.fromBytes(car);
    const blocks = [];
    for await (const b of indexer) blocks.push(b);
    // Block 0 is the manifest, block 1 the snapshot; the commits follow.
    const commits = blocks.slice(2);
    expect(commits).toHaveLength(6);
    for (let round = 0; round < 12; round++) {
      const block = rnd.pick(commits);
      const bytes = car.subarray(
        block.blockOffset,
        block.blockOffset + block.blockLength,
      );
      let at: number;
      let where: string;
      if (round % 2 === 0) {
        // Inside the signature: find its 64 bytes in the block.
        const s = decodeEnvelope(bytes, "block").s!;
        at = Buffer.from(bytes).indexOf(Buffer.from(s)) + rnd.int(64);
        where = "signature";
      } else {
        at = rnd.int(block.blockLength);
        where = "commit";
      }
      const damaged = Buffer.from(car);
      damaged[block.blockOffset + at]! ^= 1 << rnd.int(8);
      const result = await run(["verify", await carFile(damaged)]);
      const context = `seed ${seed} round ${round}: ${where} byte ${at} of ${block.cid.toString()}`;
      expect(result.code, context).toBe(1);
      expect(result.err[0], context).toMatch(
        new RegExp(`^commit ${block.cid.toString()}: `),
      );
    }
  });

  it("refuses a stream that is not a CAR, naming the export", async () => {
    const { car } = await exported();
    const damaged = Buffer.from(car);
    damaged[1]! ^= 0xff; // the header
    const result = await run(["verify", await carFile(damaged)]);
    expect(result.code).toBe(1);
    expect(result.err[0]).toMatch(/^export: not a readable CAR/);
  });
});

describe("kiln verify after compaction", () => {
  it("passes a compacted ledger and its export, counting the parents let go", async () => {
    const storage = `memory://verify-compact-${process.pid}-${n++}`;
    const ledger = await openLedger("orders", { storage });
    for (let i = 0; i < 4; i++) await ledger.put({ _id: `o${i}`, amount: i });
    await ledger.compact();
    const car = await collect(exportLedger(ledger));
    await ledger.close();
    for (const target of [
      ["orders", "--storage", storage],
      [await carFile(car)],
    ]) {
      const result = await run(["verify", ...target]);
      expect(result.err).toEqual([]);
      expect(result.out[0]).toContain(
        "1 commits (1 signed, without the key), 1 heads, 1 parents let go",
      );
    }
  });
});

describe("kiln verify --key", () => {
  it("names a commit that is soundly signed but sealed under another key", async () => {
    const storage = `memory://verify-key-${process.pid}-${n++}`;
    const ledger = await openLedger("orders", { storage });
    const { clock } = await ledger.put({ _id: "o1", amount: 1 });
    const key = ledger.key;
    await ledger.close();
    const g = await memoryGateway.open(memoryGateway.parse(new URL(storage)));
    const head = (await g.getHeads("orders"))[0]!;
    expect(head.toString()).toBe(clock[0]);
    const signer = await nodeSigning.importSigner(randomBytes(32));
    const foreign = await sealBytes(
      nodeCrypto,
      createLedgerKey(nodeCrypto),
      [head],
      encodeEvent({ h: 2, ops: [["o1", null]] }),
      signer,
    );
    await g.putCommit("orders", foreign.cid, foreign.bytes);
    await g.putHeads("orders", { add: [foreign.cid], remove: [head] });
    const blind = await run(["verify", "orders", "--storage", storage]);
    expect(blind.code).toBe(0);
    const keyed = await run([
      "verify",
      "orders",
      "--storage",
      storage,
      `--key=${key}`,
    ]);
    expect(keyed.code).toBe(1);
    expect(keyed.err[0]).toBe(
      `commit ${foreign.cid.toString()}: decrypt: commit ${foreign.cid.toString()} does not decrypt under this ledger's key (wrong key or tampered bytes)`,
    );
    await g.close();
  });
});

describe("kiln verify --key, rotated keys", () => {
  it("counts commits sealed under a rotated key (envelope k) instead of failing them", async () => {
    const storage = `memory://verify-rotated-${process.pid}-${n++}`;
    const ledger = await openLedger("orders", { storage });
    await ledger.put({ _id: "o1", amount: 1 });
    const key = ledger.key;
    await ledger.close();
    const g = await memoryGateway.open(memoryGateway.parse(new URL(storage)));
    const head = (await g.getHeads("orders"))[0]!;
    const rotated = await sealBytes(
      nodeCrypto,
      createLedgerKey(nodeCrypto),
      [head],
      encodeEvent({ h: 2, ops: [["o1", null]] }),
      await nodeSigning.importSigner(randomBytes(32)),
      { keyId: new Uint8Array(8).fill(3) },
    );
    await g.putCommit("orders", rotated.cid, rotated.bytes);
    await g.putHeads("orders", { add: [rotated.cid], remove: [head] });
    await g.close();
    const result = await run([
      "verify",
      "orders",
      "--storage",
      storage,
      `--key=${key}`,
    ]);
    expect(result.err).toEqual([]);
    expect(result.out[0]).toContain(
      "2 commits (2 signed, 1 decrypted with the key, 1 under rotated keys not opened)",
    );
  });
});

describe("kiln verify, membership", () => {
  it("checks a membered ledger's membership, and names a key holder's forged commit", async () => {
    const storage = `memory://verify-members-${process.pid}-${n++}`;
    const ledger = await openLedger("orders", { storage, members: true });
    await ledger.put({ _id: "o1", amount: 1 });
    const { clock } = await ledger.put({ _id: "o2", amount: 2 });
    const key = ledger.key;
    await ledger.close();
    const sound = await run(["verify", "orders", "--storage", storage]);
    expect(sound.err).toEqual([]);
    expect(sound.out[0]).toMatch(/, membership checked$/);
    // A holder of the content key, never admitted, seals and signs a commit by hand.
    const g = await memoryGateway.open(memoryGateway.parse(new URL(storage)));
    const head = (await g.getHeads("orders"))[0]!;
    expect(head.toString()).toBe(clock[0]);
    const forger = await nodeSigning.importSigner(randomBytes(32));
    const forged = await sealBytes(
      nodeCrypto,
      decodeLedgerKey(key),
      [head],
      encodeEvent({ h: 3, ops: [["o1", null]] }),
      forger,
    );
    await g.putCommit("orders", forged.cid, forged.bytes);
    await g.putHeads("orders", { add: [forged.cid], remove: [head] });
    await g.close();
    for (const extra of [[], [`--key=${key}`]]) {
      const result = await run([
        "verify",
        "orders",
        "--storage",
        storage,
        ...extra,
      ]);
      expect(result.code).toBe(1);
      expect(result.err[0]).toMatch(
        new RegExp(`^commit ${forged.cid.toString()}: membership: `),
      );
      expect(result.err).toHaveLength(2); // the failure, then the summary
    }
  });
});
