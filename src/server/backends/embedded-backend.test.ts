import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LockedError } from "../../util/dir-lock.js";
import { checkCommit } from "../../sync/protocol/commit-check.js";
import { describeBackendConformance } from "../backend-conformance.js";
import { encodeLedgerName } from "../../util/ledger-name.js";
import {
  LEDGERS_DIR,
  SNAPSHOTS_DIR,
  openEmbeddedBackend,
  type EmbeddedBackendOptions,
} from "./embedded-backend.js";
import { makeTestChain, makeTestCommit } from "./test-commits.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-embedded-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => path.join(tmp, `data-${++dirs}`);

// Each open gets its own folder, except a reopen, which gets the folder of the closed one.
const folders = new WeakMap<object, string>();
const openFresh = async (options?: EmbeddedBackendOptions) => {
  const dir = freshDir();
  const backend = await openEmbeddedBackend(dir, options);
  folders.set(backend, dir);
  return backend;
};

/** Files of the data folder whose names carry the ledger's encoded name. */
const filesOf = (backend: object, ledger: string): Promise<string[]> => {
  const dir = folders.get(backend)!;
  const encoded = encodeLedgerName(ledger);
  const found: string[] = [];
  for (const sub of [LEDGERS_DIR, SNAPSHOTS_DIR]) {
    const at = path.join(dir, sub);
    if (!fs.existsSync(at)) continue;
    for (const f of fs.readdirSync(at))
      if (f.startsWith(encoded)) found.push(path.join(sub, f));
  }
  return Promise.resolve(found);
};

/** Bytes of the ledger's log file. */
const logBytes = async (backend: object, ledger: string): Promise<number> => {
  let size = 0;
  for (const f of await filesOf(backend, ledger))
    if (f.startsWith(LEDGERS_DIR))
      size += fs.statSync(path.join(folders.get(backend)!, f)).size;
  return size;
};

describeBackendConformance("embedded", () => openFresh(), {
  reopen: async (closed) => {
    const dir = folders.get(closed)!;
    const backend = await openEmbeddedBackend(dir);
    folders.set(backend, dir);
    return backend;
  },
  leftovers: filesOf,
  storedBytes: logBytes,
});
describeBackendConformance(
  "embedded, two open files at most",
  () => openFresh({ maxOpenFiles: 2, cacheBytes: 4096 }),
  {
    reopen: (closed) =>
      openEmbeddedBackend(folders.get(closed)!, { maxOpenFiles: 2 }),
  },
);

describe("embedded backend", () => {
  it("writes real commit envelopes in the tests", async () => {
    const [a, b] = await makeTestChain(2);
    expect(checkCommit(b!.cid, b!.bytes).map(String)).toEqual([
      a!.cid.toString(),
    ]);
  });

  it("lets one open at a time use a folder", async () => {
    const dir = freshDir();
    const first = await openEmbeddedBackend(dir);
    const second = openEmbeddedBackend(dir);
    await expect(second).rejects.toBeInstanceOf(LockedError);
    await expect(second).rejects.toMatchObject({
      code: "locked",
      pid: process.pid,
    });
    await first.close();
    const third = await openEmbeddedBackend(dir);
    await third.close();
  });

  it("refuses a folder locked by another live process, and takes over a dead one's lock", async () => {
    const dir = freshDir();
    await (await openEmbeddedBackend(dir)).close();
    fs.writeFileSync(path.join(dir, "lock"), `${process.ppid}\n`);
    await expect(openEmbeddedBackend(dir)).rejects.toMatchObject({
      code: "locked",
      pid: process.ppid,
    });
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
    fs.writeFileSync(path.join(dir, "lock"), `${dead}\n`);
    const backend = await openEmbeddedBackend(dir);
    expect(fs.readFileSync(path.join(dir, "lock"), "utf8")).toBe(
      `${process.pid}\n`,
    );
    await backend.close();
    expect(fs.existsSync(path.join(dir, "lock"))).toBe(false);
  });

  it("serves hundreds of ledgers through a few descriptors", async () => {
    const dir = freshDir();
    const backend = await openEmbeddedBackend(dir, { maxOpenFiles: 8 });
    const openFds = () =>
      fs.existsSync("/proc/self/fd")
        ? fs.readdirSync("/proc/self/fd").length
        : 0;
    const before = openFds();
    const heads = new Map<string, string>();
    const ledgers = Array.from({ length: 300 }, (_, i) => `ledger-${i}`);
    await Promise.all(
      ledgers.map(async (ledger) => {
        const chain = await makeTestChain(2, [], 128);
        await backend.putCommits(ledger, chain);
        heads.set(ledger, chain[1]!.cid.toString());
      }),
    );
    // (A burst of puts to new ledgers holds a descriptor each until its fdatasync is done.)
    expect(openFds() - before).toBeLessThanOrEqual(8 + 2);
    for (const ledger of ledgers)
      expect((await backend.getHeads(ledger)).map(String)).toEqual([
        heads.get(ledger),
      ]);
    await backend.close();
    const again = await openEmbeddedBackend(dir, { maxOpenFiles: 8 });
    for (const ledger of ledgers.slice(0, 50)) {
      const [head] = await again.getHeads(ledger);
      expect((await again.getCommits(ledger, [head!]))[0]).toBeInstanceOf(
        Uint8Array,
      );
    }
    expect(openFds() - before).toBeLessThanOrEqual(8 + 2);
    await again.close();
  });

  it("reopens a ledger of 10,000 commits with its heads and heights", async () => {
    const dir = freshDir();
    const backend = await openEmbeddedBackend(dir);
    const chain = await makeTestChain(10_000, [], 200);
    const side = await makeTestCommit([chain[4999]!.cid]);
    for (let i = 0; i < chain.length; i += 500)
      await backend.putCommits("big", chain.slice(i, i + 500));
    await backend.putCommits("big", [side]);
    await backend.close();
    const again = await openEmbeddedBackend(dir);
    expect((await again.getHeads("big")).map(String)).toEqual(
      [chain.at(-1)!, side].map((c) => c.cid.toString()).sort(),
    );
    const [meta] = await again.getMeta("big", [chain.at(-1)!.cid]);
    expect(meta?.height).toBe(10_000);
    expect((await again.getCommits("big", [chain[1234]!.cid]))[0]).toEqual(
      chain[1234]!.bytes,
    );
    await again.close();
  });

  it("keeps file names short for long ledger names", async () => {
    const dir = freshDir();
    const backend = await openEmbeddedBackend(dir);
    const names = ["é".repeat(512), "é".repeat(511) + "e", "x".repeat(200)];
    for (const name of names)
      await backend.putCommits(name, await makeTestChain(1));
    for (const file of fs.readdirSync(path.join(dir, LEDGERS_DIR)))
      expect(Buffer.byteLength(file)).toBeLessThanOrEqual(255);
    expect(fs.readdirSync(path.join(dir, LEDGERS_DIR))).toHaveLength(3);
    await backend.close();
  });
});
