// Crash and damage recovery of the embedded backend: whatever happens to the end or the middle
// of a log, a reopen serves a prefix of whole batches, exactly as written, and says what it cut.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cidKey } from "../../blocks/cid.js";
import { encodeLedgerName } from "../../util/ledger-name.js";
import { createRandom, testSeed } from "../../util/random.js";
import type { Backend, StoredCommit } from "../backend.js";
import {
  LEDGERS_DIR,
  logFileName,
  openEmbeddedBackend,
  type LogRepair,
} from "./embedded-backend.js";
import { encodeCommitsRecord } from "./embedded-record.js";
import { makeTestChain, makeTestCommit } from "./test-commits.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-recovery-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => path.join(tmp, `data-${++dirs}`);
/** The magic and the ledger record of a ledger named "fuzz". */
const HEADER_END = 8 + 9 + "fuzz".length;

const logFile = (dir: string, ledger: string): string =>
  path.join(dir, LEDGERS_DIR, logFileName(encodeLedgerName(ledger)));

async function reopen(
  dir: string,
): Promise<{ backend: Backend; repairs: LogRepair[] }> {
  const repairs: LogRepair[] = [];
  const backend = await openEmbeddedBackend(dir, {
    onRepair: (r) => repairs.push(r),
  });
  return { backend, repairs };
}

/** Three puts of one chain, with the log's size after each. */
async function writeThreeBatches(dir: string, ledger: string) {
  const backend = await openEmbeddedBackend(dir);
  const chain = await makeTestChain(6);
  const batches = [chain.slice(0, 2), chain.slice(2, 4), chain.slice(4)];
  const sizes: number[] = [];
  for (const batch of batches) {
    await backend.putCommits(ledger, batch);
    sizes.push(fs.statSync(logFile(dir, ledger)).size);
  }
  await backend.close();
  return { batches, sizes, file: logFile(dir, ledger) };
}

async function expectServed(
  backend: Backend,
  ledger: string,
  served: readonly StoredCommit[],
  lost: readonly StoredCommit[],
  what?: string,
): Promise<void> {
  expect((await backend.getHeads(ledger)).map(String), what).toEqual(
    served.length ? [served.at(-1)!.cid.toString()] : [],
  );
  const bytes = await backend.getCommits(
    ledger,
    [...served, ...lost].map((c) => c.cid),
  );
  served.forEach((c, i) => expect(bytes[i]).toEqual(c.bytes));
  expect(bytes.slice(served.length)).toEqual(lost.map(() => undefined));
}

describe("embedded backend recovery", () => {
  it("cuts a torn tail on reopen, serving the whole batches before it", async () => {
    const dir = freshDir();
    const { batches, sizes, file } = await writeThreeBatches(dir, "torn");
    fs.truncateSync(file, sizes[2]! - 10);
    const { backend, repairs } = await reopen(dir);
    await expectServed(
      backend,
      "torn",
      [...batches[0]!, ...batches[1]!],
      batches[2]!,
    );
    expect(repairs).toMatchObject([
      {
        kind: "torn-tail",
        ledger: "torn",
        offset: sizes[1],
        savedTo: `${file}.damaged-at-${sizes[1]}`,
        recovered: 0,
      },
    ]);
    expect(repairs[0]!.droppedBytes).toBe(sizes[2]! - 10 - sizes[1]!);
    // The lost batch can be put again, and the log is whole afterwards.
    await backend.putCommits("torn", batches[2]!);
    await backend.close();
    const again = await reopen(dir);
    await expectServed(again.backend, "torn", batches.flat(), []);
    expect(again.repairs).toEqual([]);
    await again.backend.close();
  });

  it("keeps serving the intact records after a flipped length byte, and copies the cut aside (issue 11)", async () => {
    // Five batches of independent roots: one flipped byte in the second record's length
    // field made every later record look like a torn tail, and all were cut with no copy.
    const dir = freshDir();
    const backend = await openEmbeddedBackend(dir);
    const batches: StoredCommit[][] = [];
    const sizes: number[] = [];
    const file = logFile(dir, "lengths");
    for (let i = 0; i < 5; i++) {
      const batch = [await makeTestCommit(), await makeTestCommit()];
      await backend.putCommits("lengths", batch);
      batches.push(batch);
      sizes.push(fs.statSync(file).size);
    }
    // A child of a commit in the damaged batch: it cannot be served without its parent.
    const orphan = await makeTestCommit([batches[1]![0]!.cid]);
    await backend.putCommits("lengths", [orphan]);
    await backend.close();
    const original = fs.readFileSync(file);
    const bytes = Buffer.from(original);
    bytes[sizes[0]! + 4] = 0x7f; // the high byte of the second record's length
    fs.writeFileSync(file, bytes);

    const { backend: reopened, repairs } = await reopen(dir);
    const served = [...batches[0]!, ...batches.slice(2).flat()];
    const got = await reopened.getCommits(
      "lengths",
      [...served, ...batches[1]!, orphan].map((c) => c.cid),
    );
    served.forEach((c, i) => expect(got[i], `commit ${i}`).toEqual(c.bytes));
    expect(got.slice(served.length)).toEqual([undefined, undefined, undefined]);
    expect(repairs).toMatchObject([
      { ledger: "lengths", offset: sizes[0], recovered: 6 },
    ]);
    // Everything cut is in the copy, byte for byte.
    expect(fs.readFileSync(repairs[0]!.savedTo!)).toEqual(
      bytes.subarray(sizes[0]),
    );
    // The repaired log reopens clean, serving the same.
    await reopened.close();
    const again = await reopen(dir);
    expect(again.repairs).toEqual([]);
    expect(
      (
        await again.backend.getCommits(
          "lengths",
          served.map((c) => c.cid),
        )
      ).every((b) => b !== undefined),
    ).toBe(true);
    await again.backend.close();
  });

  it("cuts at a flipped byte and copies what it cut aside", async () => {
    const dir = freshDir();
    const { batches, sizes, file } = await writeThreeBatches(dir, "flipped");
    const bytes = fs.readFileSync(file);
    const at = sizes[0]! + 100; // inside the second batch's record
    bytes[at] = bytes[at]! ^ 0x40;
    fs.writeFileSync(file, bytes);
    const { backend, repairs } = await reopen(dir);
    await expectServed(backend, "flipped", batches[0]!, [
      ...batches[1]!,
      ...batches[2]!,
    ]);
    expect(repairs).toHaveLength(1);
    expect(repairs[0]).toMatchObject({ kind: "damaged", offset: sizes[0] });
    expect(fs.readFileSync(repairs[0]!.savedTo!)).toEqual(
      bytes.subarray(sizes[0]),
    );
    expect(fs.statSync(file).size).toBe(sizes[0]);
    await backend.close();
  });

  it("never serves a commit whose bytes do not hash to its cid, even with a good crc", async () => {
    const dir = freshDir();
    const { batches, file } = await writeThreeBatches(dir, "forged");
    // Each batch starts with a good commit on the tip, so a batch refused half way
    // through must not leave that commit (or a head move) behind.
    const tip = batches[2]![1]!.cid;
    const [good, victim] = await makeTestChain(2, [tip]);
    const forged = { ...victim!, bytes: victim!.bytes.map((b) => b ^ 1) };
    const [good2] = await makeTestChain(1, [tip]);
    const orphan = await makeTestCommit([(await makeTestCommit()).cid]);
    for (const bad of [
      [good!, forged],
      [good2!, orphan],
    ]) {
      const { record } = encodeCommitsRecord(
        bad.map((commit) => ({
          key: cidKey(commit.cid),
          commit,
          parentKeys: [],
          height: 0,
        })),
      );
      fs.appendFileSync(file, record);
      const { backend, repairs } = await reopen(dir);
      await expectServed(backend, "forged", batches.flat(), bad);
      expect(repairs).toMatchObject([{ kind: "damaged" }]);
      await backend.close();
    }
  });

  it("starts over a log torn while it was being created", async () => {
    const dir = freshDir();
    const { file } = await writeThreeBatches(dir, "new");
    fs.truncateSync(file, 15); // the magic and part of the ledger record
    const { backend, repairs } = await reopen(dir);
    expect(await backend.getHeads("new")).toEqual([]);
    expect(repairs).toMatchObject([{ kind: "torn-tail", offset: 0 }]);
    const [c] = await makeTestChain(1);
    await backend.putCommits("new", [c!]);
    await backend.close();
    const again = await reopen(dir);
    await expectServed(again.backend, "new", [c!], []);
    await again.backend.close();
  });

  it("refuses a file that is not a log of this ledger, and leaves it alone", async () => {
    const dir = freshDir();
    const backend = await openEmbeddedBackend(dir);
    const file = logFile(dir, "foreign");
    fs.writeFileSync(file, "not a kiln log at all");
    await expect(backend.getHeads("foreign")).rejects.toMatchObject({
      code: "corrupt",
    });
    expect(fs.readFileSync(file, "utf8")).toBe("not a kiln log at all");
    // Another ledger's log under this name (a case-insensitive file system).
    await backend.putCommits("other", await makeTestChain(1));
    fs.copyFileSync(logFile(dir, "other"), logFile(dir, "renamed"));
    await expect(backend.getHeads("renamed")).rejects.toMatchObject({
      code: "corrupt",
    });
    await backend.close();
  });

  it("serves a prefix of whole batches after random truncation or damage", async () => {
    const seed = testSeed(process.env.KILN_SEED);
    console.log(`recovery seed ${seed} (reproduce with KILN_SEED=${seed})`);
    const random = createRandom(seed);
    const dir = freshDir();
    const backend = await openEmbeddedBackend(dir);
    const batches: StoredCommit[][] = [];
    const ends: number[] = [];
    let tip: StoredCommit | undefined;
    for (let i = 0; i < 12; i++) {
      const batch = await makeTestChain(
        1 + random.int(4),
        tip ? [tip.cid] : [],
        64 + random.int(600),
      );
      await backend.putCommits("fuzz", batch);
      batches.push(batch);
      tip = batch.at(-1);
      ends.push(fs.statSync(logFile(dir, "fuzz")).size);
    }
    await backend.close();
    const file = logFile(dir, "fuzz");
    const original = fs.readFileSync(file);
    for (let round = 0; round < 40; round++) {
      const damaged = Buffer.from(original);
      const at = random.int(original.length);
      const truncate = random.next() < 0.5;
      if (!truncate) damaged[at] = damaged[at]! ^ (1 + random.int(255));
      fs.writeFileSync(file, truncate ? damaged.subarray(0, at) : damaged);
      for (const f of fs.readdirSync(path.join(dir, LEDGERS_DIR)))
        if (f.includes(".damaged-")) fs.rmSync(path.join(dir, LEDGERS_DIR, f));
      const { backend: again, repairs } = await reopen(dir);
      const what = `seed ${seed} round ${round}: ${truncate ? "truncate" : "flip"} at ${at}`;
      if (!truncate && at < HEADER_END) {
        // The magic or the ledger record: whose log this is cannot be told, so it is left alone.
        await expect(again.getHeads("fuzz"), what).rejects.toMatchObject({
          code: "corrupt",
        });
        await again.close();
        continue;
      }
      // Batches that end before the change are served; the one it falls in and all after are not.
      const whole = ends.filter((end) => end <= at).length;
      await expectServed(
        again,
        "fuzz",
        batches.slice(0, whole).flat(),
        batches.slice(whole).flat(),
        what,
      );
      // Cutting exactly at a record boundary leaves a whole log: nothing to repair.
      const clean =
        truncate && (at === 0 || at === HEADER_END || ends.includes(at));
      expect(repairs, what).toHaveLength(clean ? 0 : 1);
      await again.close();
    }
  });
});
