import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { CID, cidFor, verifyCid } from "../blocks/cid.js";
import { nodeCrypto } from "../blocks/node-crypto.js";
import {
  CorruptError,
  IntegrityError,
  InvalidArgumentError,
  InvalidUrlError,
  IoError,
} from "../util/errors.js";
import { fileGateway, type Durability } from "./file-gateway.js";
import type { Gateway } from "./gateway.js";
import { describeGatewayConformance } from "./gateway-conformance.js";
import { createRegistry } from "./registry.js";

const registry = createRegistry([fileGateway]);
const dirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-file-gateway-"));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

for (const durability of ["process", "fsync"] as const) {
  describeGatewayConformance(
    `file:// (durability=${durability})`,
    () => fileGateway.open({ dir: tempDir(), durability }),
    {
      openSibling: (first) => registry.open(first.url),
    },
  );
}

interface Commit {
  cid: CID;
  bytes: Uint8Array;
}

function makeCommit(size = 200): Commit {
  const bytes = new Uint8Array(randomBytes(size));
  return { cid: cidFor(nodeCrypto, bytes), bytes };
}

const open: Gateway[] = [];
async function openAt(
  dir: string,
  durability: Durability = "process",
): Promise<Gateway> {
  const g = await fileGateway.open({ dir, durability });
  open.push(g);
  return g;
}

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(open.splice(0).map((g) => g.close()));
});

async function write(
  g: Gateway,
  ledger: string,
  c: Commit,
  heads = true,
): Promise<void> {
  const put = g.putCommit(ledger, c.cid, c.bytes);
  if (heads)
    await g.putHeads(ledger, {
      add: [c.cid],
      remove: (await g.getHeads(ledger)).slice(),
    });
  await put;
}

function logPath(dir: string, ledger: string): string {
  return path.join(dir, encodeURIComponent(ledger), "log");
}

/** A reader written from docs/gateways.md alone, to prove the documented format is the real one. */
function readLog(bytes: Buffer): {
  type: number;
  offset: number;
  length: number;
  cid?: CID;
  data?: Buffer;
  heads?: CID[];
}[] {
  expect(bytes.subarray(0, 8).toString("latin1")).toBe("KILNLOG\x01");
  const records = [];
  let at = 8;
  while (at < bytes.length) {
    const type = bytes[at]!;
    const length = bytes.readUInt32LE(at + 1);
    const payload = bytes.subarray(at + 5, at + 5 + length);
    expect(bytes.readUInt32LE(at + 5 + length)).toBe(
      crc32(bytes.subarray(at, at + 5 + length)),
    );
    if (type === 1) {
      const cidLength = payload[0]!;
      records.push({
        type,
        offset: at,
        length: 9 + length,
        cid: CID.decode(payload.subarray(1, 1 + cidLength)),
        data: payload.subarray(1 + cidLength),
      });
    } else {
      expect(type).toBe(2);
      const heads: CID[] = [];
      for (let i = 0; i < payload.length; i += 1 + payload[i]!)
        heads.push(CID.decode(payload.subarray(i + 1, i + 1 + payload[i]!)));
      records.push({ type, offset: at, length: 9 + length, heads });
    }
    at += 9 + length;
  }
  return records;
}

describe("fileGateway.parse", () => {
  it("parses a url once into typed options", () => {
    expect(fileGateway.parse(new URL("file:///var/kiln"))).toEqual({
      dir: "/var/kiln",
      durability: "process",
    });
    expect(
      fileGateway.parse(new URL("file:///var/kiln/?durability=fsync")),
    ).toEqual({ dir: "/var/kiln", durability: "fsync" });
    expect(
      fileGateway.parse(new URL("file:///var/kiln?durability=process")),
    ).toEqual({ dir: "/var/kiln", durability: "process" });
    expect(fileGateway.parse(new URL("file:///var/my%20data"))).toEqual({
      dir: "/var/my data",
      durability: "process",
    });
  });

  it.each([
    ["file://server/share", "not host"],
    ["file://./data", "relative"],
    ["file://../data", "relative"],
    ["file:///data?fsync=1", "unknown option"],
    ["file:///data?durability=sometimes", "durability must be"],
    ["file:///data?durability=fsync&durability=fsync", "twice"],
    ["file:///data#x", "fragment"],
    ["file:///data/a%2Fb", "not a usable local path"],
  ])("rejects %s", (url, detail) => {
    expect(() => registry.check(url)).toThrow(InvalidUrlError);
    expect(() => registry.check(url)).toThrow(detail);
  });

  it("names the gateway by its normalised url", async () => {
    const dir = tempDir();
    const g = await registry.open(`file://${dir}/?durability=fsync`);
    open.push(g);
    expect(g.url).toBe(`file://${dir}?durability=fsync`);
    const h = await registry.open(`file://${dir}`);
    open.push(h);
    expect(h.url).toBe(`file://${dir}`);
  });

  it("shares one store between spellings of the same folder", async () => {
    const dir = tempDir();
    const link = `${dir}-link`;
    fs.symlinkSync(dir, link);
    dirs.push(link);
    const a = await openAt(dir);
    const b = await openAt(link);
    const c = makeCommit();
    await write(a, "l", c);
    expect(await b.getCommit("l", c.cid)).toEqual(c.bytes);
    expect((await b.getHeads("l")).map(String)).toEqual([c.cid.toString()]);
  });

  it("fails to open a folder path that is a file, with IoError", async () => {
    const file = path.join(tempDir(), "plain-file");
    fs.writeFileSync(file, "x");
    await expect(
      fileGateway.open({ dir: file, durability: "process" }),
    ).rejects.toBeInstanceOf(IoError);
  });
});

describe("file:// layout", () => {
  it("writes the documented files and record format", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    const [a, b] = [makeCommit(), makeCommit()];
    await write(g, "orders", a);
    await write(g, "orders", b);
    await g.local!.putKey("orders", "a-key");
    await g.local!.putCheckpoint("orders", new Uint8Array([1, 2, 3]));
    await g.close();

    expect(fs.readdirSync(dir)).toEqual(["orders"]);
    expect(fs.readdirSync(path.join(dir, "orders")).sort()).toEqual([
      "checkpoint",
      "key",
      "log",
    ]);
    const records = readLog(fs.readFileSync(logPath(dir, "orders")));
    expect(records.map((r) => r.type)).toEqual([1, 2, 1, 2]);
    expect(records[0]!.cid!.toString()).toBe(a.cid.toString());
    expect(new Uint8Array(records[0]!.data!)).toEqual(a.bytes);
    expect(records[3]!.heads!.map(String)).toEqual([b.cid.toString()]);
    expect(
      JSON.parse(fs.readFileSync(path.join(dir, "orders", "key"), "utf8")),
    ).toEqual({ v: 1, key: "a-key" });
    const checkpoint = fs.readFileSync(path.join(dir, "orders", "checkpoint"));
    expect(checkpoint.subarray(0, 8).toString("latin1")).toBe("KILNCKP\x01");
    expect(checkpoint.readUInt32LE(8)).toBe(3);
    expect([...checkpoint.subarray(12, 15)]).toEqual([1, 2, 3]);
    expect(checkpoint.readUInt32LE(15)).toBe(crc32(checkpoint.subarray(0, 15)));
  });

  it("keeps the key file, the log and the folder readable by the owner only", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    await write(g, "orders", makeCommit());
    await g.local!.putKey("orders", "secret");
    const mode = (file: string): number =>
      fs.statSync(path.join(dir, "orders", file)).mode & 0o777;
    expect(mode("key")).toBe(0o600);
    expect(mode("log")).toBe(0o600);
    expect(mode(".")).toBe(0o700);
  });

  it("keeps every ledger name inside the folder", async () => {
    const parent = tempDir();
    const dir = path.join(parent, "store");
    const g = await openAt(dir);
    for (const ledger of [".", "..", "../escape", "a/b", "/abs", "C:\\x"])
      await write(g, ledger, makeCommit());
    expect(fs.readdirSync(parent)).toEqual(["store"]);
    expect(fs.readdirSync(dir).sort()).toEqual([
      "%2E",
      "%2E.",
      "%2E.%2Fescape",
      "%2Fabs",
      "C%3A%5Cx",
      "a%2Fb",
    ]);
  });

  it("creates no files for ledgers that are only read", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    expect(await g.getHeads("probe")).toEqual([]);
    expect(await g.getCommit("probe", makeCommit().cid)).toBeUndefined();
    expect(await g.local!.getKey("probe")).toBeUndefined();
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe("file:// reopen and recovery", () => {
  it("sees everything again after reopening", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    const commits = Array.from({ length: 20 }, () => makeCommit(3000));
    for (const c of commits) await write(g, "orders", c);
    await g.local!.putKey("orders", "k1");
    await g.local!.putCheckpoint("orders", new Uint8Array([9, 9]));
    const heads = (await g.getHeads("orders")).map(String);
    await g.close();

    const again = await openAt(dir);
    expect((await again.getHeads("orders")).map(String)).toEqual(heads);
    for (const c of commits)
      expect(await again.getCommit("orders", c.cid)).toEqual(c.bytes);
    expect(await again.local!.getKey("orders")).toBe("k1");
    expect(await again.local!.getCheckpoint("orders")).toEqual(
      new Uint8Array([9, 9]),
    );
    expect((await again.local!.listCommits("orders")).length).toBe(20);
  });

  it("reads back a log larger than its read window with every cid intact", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    const commits = Array.from({ length: 1000 }, () => makeCommit(3000));
    for (const c of commits) await write(g, "big", c);
    await g.close();
    expect(fs.statSync(logPath(dir, "big")).size).toBeGreaterThan(2 << 20);

    const again = await openAt(dir);
    const listed = await again.local!.listCommits("big");
    expect(listed.map(String).sort()).toEqual(
      commits.map((c) => c.cid.toString()).sort(),
    );
    // The CIDs read back verify their bytes (their digests were not views of a reused buffer).
    for (const cid of listed)
      verifyCid(nodeCrypto, cid, (await again.getCommit("big", cid))!);
    const [head] = await again.getHeads("big");
    expect(head!.equals(commits.at(-1)!.cid)).toBe(true);
    for (const c of commits)
      expect(await again.getCommit("big", c.cid)).toEqual(c.bytes);
    // Heads read back are rewritten correctly by compaction, which encodes their bytes.
    await again.local!.retainCommits("big", new Set([head!.toString()]));
    await again.close();
    const third = await openAt(dir);
    expect((await third.getHeads("big")).map(String)).toEqual([
      commits.at(-1)!.cid.toString(),
    ]);
  });

  it("drops a torn last record at every cut point and keeps the whole ones before it", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    const [a, b, c] = [makeCommit(), makeCommit(), makeCommit()];
    await write(g, "l", a);
    await g.putCommit("l", b.cid, b.bytes);
    await g.close();
    const full = fs.readFileSync(logPath(dir, "l"));
    const last = readLog(full).at(-1)!;
    expect(last.cid!.toString()).toBe(b.cid.toString());

    for (let cut = last.offset; cut < full.length; cut++) {
      fs.writeFileSync(logPath(dir, "l"), full.subarray(0, cut));
      const torn = await openAt(dir);
      expect((await torn.getHeads("l")).map(String), `cut at ${cut}`).toEqual([
        a.cid.toString(),
      ]);
      expect(await torn.getCommit("l", a.cid)).toEqual(a.bytes);
      expect(await torn.getCommit("l", b.cid)).toBeUndefined();
      expect(fs.statSync(logPath(dir, "l")).size).toBe(last.offset);
      // New records follow the whole ones, and read back after another reopen.
      await write(torn, "l", c);
      await torn.close();
      const after = await openAt(dir);
      expect((await after.getHeads("l")).map(String)).toEqual([
        c.cid.toString(),
      ]);
      expect(await after.getCommit("l", c.cid)).toEqual(c.bytes);
      await after.close();
    }
  });

  it("drops a tail of zeros such as a power loss can leave", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    const a = makeCommit();
    await write(g, "l", a);
    await g.close();
    const size = fs.statSync(logPath(dir, "l")).size;
    fs.appendFileSync(logPath(dir, "l"), Buffer.alloc(4096));
    const again = await openAt(dir);
    expect(await again.getCommit("l", a.cid)).toEqual(a.bytes);
    expect(fs.statSync(logPath(dir, "l")).size).toBe(size);
  });

  it("starts afresh from a log cut inside its magic", async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "l"));
    fs.writeFileSync(logPath(dir, "l"), "KILN");
    const g = await openAt(dir);
    expect(await g.getHeads("l")).toEqual([]);
    const a = makeCommit();
    await write(g, "l", a);
    await g.close();
    expect(readLog(fs.readFileSync(logPath(dir, "l"))).length).toBe(2);
  });

  it("refuses a file that is not a kiln log with CorruptError", async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "l"));
    fs.writeFileSync(logPath(dir, "l"), "this is not a log at all");
    const g = await openAt(dir);
    await expect(g.getHeads("l")).rejects.toBeInstanceOf(CorruptError);
    expect(fs.readFileSync(logPath(dir, "l"), "utf8")).toBe(
      "this is not a log at all",
    );
  });

  describe("a damaged record followed by whole ones", () => {
    async function threeCommits(dir: string): Promise<{
      commits: Commit[];
      full: Buffer;
      records: ReturnType<typeof readLog>;
    }> {
      const g = await openAt(dir);
      const commits = [makeCommit(), makeCommit(), makeCommit()];
      for (const c of commits) await write(g, "l", c);
      await g.close();
      const full = fs.readFileSync(logPath(dir, "l"));
      return { commits, full, records: readLog(full) };
    }

    it("is not dropped silently: reading it fails the CID check, and later records survive", async () => {
      const dir = tempDir();
      const { commits, full, records } = await threeCommits(dir);
      const [a, b, c] = commits as [Commit, Commit, Commit];
      const damaged = records.find(
        (r) => r.cid?.toString() === b.cid.toString(),
      )!;
      const bytes = Buffer.from(full);
      bytes[damaged.offset + Math.floor(damaged.length / 2)]! ^= 0xff;
      fs.writeFileSync(logPath(dir, "l"), bytes);

      const g = await openAt(dir);
      expect(fs.statSync(logPath(dir, "l")).size).toBe(full.length);
      const read = await g.getCommit("l", b.cid);
      expect(read).toBeInstanceOf(Uint8Array);
      expect(() => verifyCid(nodeCrypto, b.cid, read!)).toThrow(IntegrityError);
      expect(await g.getCommit("l", a.cid)).toEqual(a.bytes);
      expect(await g.getCommit("l", c.cid)).toEqual(c.bytes);
      expect((await g.getHeads("l")).map(String)).toEqual([c.cid.toString()]);
      expect((await g.local!.listCommits("l")).map(String)).toContain(
        b.cid.toString(),
      );

      // A re-put (say, from a sync peer) repairs it, and the repair outlives a reopen.
      await g.putCommit("l", b.cid, b.bytes);
      expect(await g.getCommit("l", b.cid)).toEqual(b.bytes);
      await g.close();
      const again = await openAt(dir);
      expect(await again.getCommit("l", b.cid)).toEqual(b.bytes);
    });

    it("skips a record whose length field is damaged, without cutting the log", async () => {
      const dir = tempDir();
      const { commits, full, records } = await threeCommits(dir);
      const [a, b, c] = commits as [Commit, Commit, Commit];
      const damaged = records.find(
        (r) => r.cid?.toString() === b.cid.toString(),
      )!;
      const bytes = Buffer.from(full);
      bytes.writeUInt32LE(0x7fffffff, damaged.offset + 1);
      fs.writeFileSync(logPath(dir, "l"), bytes);

      const g = await openAt(dir);
      expect(fs.statSync(logPath(dir, "l")).size).toBe(full.length);
      expect(await g.getCommit("l", b.cid)).toBeUndefined();
      expect(await g.getCommit("l", a.cid)).toEqual(a.bytes);
      expect(await g.getCommit("l", c.cid)).toEqual(c.bytes);
      expect((await g.getHeads("l")).map(String)).toEqual([c.cid.toString()]);
    });

    it("stays damaged through compaction rather than being laundered", async () => {
      const dir = tempDir();
      const { commits, full, records } = await threeCommits(dir);
      const [, b, c] = commits as [Commit, Commit, Commit];
      const damaged = records.find(
        (r) => r.cid?.toString() === b.cid.toString(),
      )!;
      const bytes = Buffer.from(full);
      bytes[damaged.offset + damaged.length - 10]! ^= 0x01;
      fs.writeFileSync(logPath(dir, "l"), bytes);

      const g = await openAt(dir);
      await g.local!.retainCommits(
        "l",
        new Set([b.cid.toString(), c.cid.toString()]),
      );
      await g.close();
      const again = await openAt(dir);
      const read = await again.getCommit("l", b.cid);
      expect(() => verifyCid(nodeCrypto, b.cid, read!)).toThrow(IntegrityError);
      expect(await again.getCommit("l", c.cid)).toEqual(c.bytes);
    });
  });

  it("treats a damaged last record like a torn one: cut, as a crash mid-append would leave it", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    const [a, b] = [makeCommit(), makeCommit()];
    await write(g, "l", a);
    await g.putCommit("l", b.cid, b.bytes);
    await g.close();
    const full = fs.readFileSync(logPath(dir, "l"));
    const last = readLog(full).at(-1)!;
    full[last.offset + 60]! ^= 0xff;
    fs.writeFileSync(logPath(dir, "l"), full);
    const again = await openAt(dir);
    expect(await again.getCommit("l", b.cid)).toBeUndefined();
    expect(await again.getCommit("l", a.cid)).toEqual(a.bytes);
    expect(fs.statSync(logPath(dir, "l")).size).toBe(last.offset);
  });
});

describe("file:// writes", () => {
  it("hands a putCommit and putHeads of one tick to the OS in one write", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    await write(g, "l", makeCommit());
    const writes = vi.spyOn(fs, "writeSync");
    const vectorWrites = vi.spyOn(fs, "writevSync");
    const c = makeCommit(3000);
    await Promise.all([
      g.putCommit("l", c.cid, c.bytes),
      g.putHeads("l", { add: [c.cid], remove: [] }),
    ]);
    // Other code in the process may write too; the log writes are the ones holding c.
    const written = [
      ...writes.mock.calls
        .map((call) => call[1] as unknown)
        .filter((data): data is Uint8Array => data instanceof Uint8Array),
      ...vectorWrites.mock.calls.map((call) =>
        Buffer.concat(call[1] as Uint8Array[]),
      ),
    ];
    const mine = written
      .map((data) => Buffer.from(data.buffer, data.byteOffset, data.byteLength))
      .filter((buffer) => buffer.includes(Buffer.from(c.bytes)));
    expect(mine.length).toBe(1);
    const cidAt = mine[0]!.indexOf(Buffer.from(c.cid.bytes));
    expect(
      mine[0]!.indexOf(Buffer.from(c.cid.bytes), cidAt + 1),
    ).toBeGreaterThan(cidAt);
    const records = readLog(fs.readFileSync(logPath(dir, "l")));
    expect(records.slice(-2).map((r) => r.type)).toEqual([1, 2]);
  });

  it("does not fdatasync with durability=process", async () => {
    const syncs = vi.spyOn(fs, "fdatasync");
    const g = await openAt(tempDir(), "process");
    for (let i = 0; i < 5; i++) await write(g, "l", makeCommit());
    expect(syncs).not.toHaveBeenCalled();
  });

  it("resolves only after an fdatasync with durability=fsync, one shared by a tick's writers", async () => {
    const original = fs.fdatasync;
    let completed = 0;
    const syncs = vi
      .spyOn(fs, "fdatasync")
      .mockImplementation(
        (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) =>
          original(fd, (error) => {
            completed++;
            callback(error);
          }),
      );
    const dir = tempDir();
    const g = await openAt(dir, "fsync");
    const first = makeCommit();
    await write(g, "l", first);
    expect(completed).toBeGreaterThanOrEqual(1);

    const before = syncs.mock.calls.length;
    const commits = Array.from({ length: 100 }, () => makeCommit(3000));
    await Promise.all(
      commits.flatMap((c) => [
        g.putCommit("l", c.cid, c.bytes),
        g.putHeads("l", { add: [c.cid], remove: [] }),
      ]),
    );
    expect(syncs.mock.calls.length - before).toBe(1);
    expect(completed).toBe(syncs.mock.calls.length);
    await g.close();
    const again = await openAt(dir, "fsync");
    expect((await again.getHeads("l")).length).toBe(101);
  });

  it("refuses a commit larger than a record holds, and stays usable", async () => {
    const g = await openAt(tempDir());
    const big = makeCommit((64 << 20) + 1);
    await expect(g.putCommit("l", big.cid, big.bytes)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(await g.getCommit("l", big.cid)).toBeUndefined();
    await write(g, "l", makeCommit());
  });

  it("rolls back a failed append: both calls reject with IoError and nothing half-written remains", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    const a = makeCommit();
    await write(g, "l", a);
    const b = makeCommit(3000);
    const marker = Buffer.from(b.bytes.subarray(0, 32));
    const original = fs.writevSync;
    let failing = true;
    vi.spyOn(fs, "writevSync").mockImplementation(
      (
        fd: number,
        buffers: readonly NodeJS.ArrayBufferView[],
        position?: number | null,
      ) => {
        const joined = Buffer.concat(buffers as Uint8Array[]);
        if (failing && joined.includes(marker)) {
          failing = false;
          // Half of the batch reaches the file, then the disk fills up.
          fs.writeSync(fd, joined.subarray(0, joined.length >> 1));
          throw Object.assign(new Error("no space left on device"), {
            code: "ENOSPC",
          });
        }
        return original(fd, buffers, position ?? undefined);
      },
    );
    const put = g.putCommit("l", b.cid, b.bytes);
    const heads = g.putHeads("l", { add: [b.cid], remove: [a.cid] });
    await expect(put).rejects.toBeInstanceOf(IoError);
    await expect(heads).rejects.toBeInstanceOf(IoError);
    expect(await g.getCommit("l", b.cid)).toBeUndefined();
    expect((await g.getHeads("l")).map(String)).toEqual([a.cid.toString()]);

    await write(g, "l", b);
    await g.close();
    const records = readLog(fs.readFileSync(logPath(dir, "l")));
    expect(records.map((r) => r.type)).toEqual([1, 2, 1, 2]);
    const again = await openAt(dir);
    expect((await again.getHeads("l")).map(String)).toEqual([b.cid.toString()]);
  });

  it("compacts the log to the kept commits and the heads", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    const commits = Array.from({ length: 10 }, () => makeCommit(3000));
    for (const c of commits) await write(g, "l", c);
    const before = fs.statSync(logPath(dir, "l")).size;
    const last = commits.at(-1)!;
    await g.local!.retainCommits("l", new Set([last.cid.toString()]));
    const records = readLog(fs.readFileSync(logPath(dir, "l")));
    expect(records.map((r) => r.type)).toEqual([1, 2]);
    expect(fs.statSync(logPath(dir, "l")).size).toBeLessThan(before / 5);
    expect(fs.existsSync(`${logPath(dir, "l")}.tmp`)).toBe(false);
    const next = makeCommit();
    await write(g, "l", next);
    await g.close();
    const again = await openAt(dir);
    expect((await again.getHeads("l")).map(String)).toEqual([
      next.cid.toString(),
    ]);
    expect(await again.getCommit("l", last.cid)).toEqual(last.bytes);
    expect(await again.getCommit("l", commits[0]!.cid)).toBeUndefined();
  });
});

describe("file:// with an fdatasync in flight", () => {
  it("compacts without losing the writes the fdatasync was for", async () => {
    const dir = tempDir();
    const g = await openAt(dir, "fsync");
    const [c, d] = [makeCommit(), makeCommit()];
    await write(g, "l", c);
    // Same tick: compaction flushes these, their fdatasync starts, and the old file is
    // replaced while it runs.
    const puts = Promise.all([
      g.putCommit("l", d.cid, d.bytes),
      g.putHeads("l", { add: [d.cid], remove: [c.cid] }),
    ]);
    const retained = g.local!.retainCommits("l", new Set([d.cid.toString()]));
    await Promise.all([puts, retained]);
    expect(await g.getCommit("l", d.cid)).toEqual(d.bytes);
    expect(await g.getCommit("l", c.cid)).toBeUndefined();
    const e = makeCommit();
    await write(g, "l", e);
    await g.close();
    const again = await openAt(dir);
    expect((await again.getHeads("l")).map(String)).toEqual([e.cid.toString()]);
    expect(await again.getCommit("l", d.cid)).toEqual(d.bytes);
  });

  it("destroys a ledger and settles the writes that were in flight", async () => {
    const dir = tempDir();
    const g = await openAt(dir, "fsync");
    const c = makeCommit();
    const puts = Promise.all([
      g.putCommit("l", c.cid, c.bytes),
      g.putHeads("l", { add: [c.cid], remove: [] }),
    ]);
    const destroyed = g.local!.destroy("l");
    await Promise.all([puts, destroyed]);
    expect(await g.getHeads("l")).toEqual([]);
    expect(fs.readdirSync(dir)).toEqual([]);
    await write(g, "l", c);
    expect((await g.getHeads("l")).map(String)).toEqual([c.cid.toString()]);
  });
});

describe("file:// key and checkpoint", () => {
  it("reports a damaged key file as CorruptError without quoting it", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    await g.local!.putKey("l", "super-secret-key-material");
    fs.writeFileSync(
      path.join(dir, "l", "key"),
      '{"v":1,"key":"super-secret-key-material"',
    );
    const error = await g.local!.getKey("l").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptError);
    expect(String((error as Error).message)).not.toContain("super-secret");
    expect(JSON.stringify(error)).not.toContain("super-secret");
  });

  it("returns undefined for a missing checkpoint and CorruptError for a damaged one", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    expect(await g.local!.getCheckpoint("l")).toBeUndefined();
    await g.local!.putCheckpoint("l", new Uint8Array(randomBytes(100)));
    const file = path.join(dir, "l", "checkpoint");
    const bytes = fs.readFileSync(file);
    bytes[50]! ^= 1;
    fs.writeFileSync(file, bytes);
    await expect(g.local!.getCheckpoint("l")).rejects.toBeInstanceOf(
      CorruptError,
    );
    fs.writeFileSync(file, bytes.subarray(0, 40));
    await expect(g.local!.getCheckpoint("l")).rejects.toBeInstanceOf(
      CorruptError,
    );
  });

  it("replaces the checkpoint by temporary file, fsync, rename, fsync of the folder", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    await g.local!.putCheckpoint("l", new Uint8Array([1]));
    const events: string[] = [];
    const fdNames = new Map<number, string>();
    const openSync = fs.openSync;
    vi.spyOn(fs, "openSync").mockImplementation(((
      file: fs.PathLike,
      flags?: fs.OpenMode,
      mode?: fs.Mode,
    ) => {
      const fd = openSync(file, flags ?? "r", mode);
      fdNames.set(fd, path.basename(String(file)));
      return fd;
    }) as typeof fs.openSync);
    const fsyncSync = fs.fsyncSync;
    vi.spyOn(fs, "fsyncSync").mockImplementation((fd: number) => {
      events.push(`fsync ${fdNames.get(fd)}`);
      fsyncSync(fd);
    });
    const renameSync = fs.renameSync;
    vi.spyOn(fs, "renameSync").mockImplementation(
      (from: fs.PathLike, to: fs.PathLike) => {
        events.push(
          `rename ${path.basename(String(from))} ${path.basename(String(to))}`,
        );
        renameSync(from, to);
      },
    );
    await g.local!.putCheckpoint("l", new Uint8Array([2]));
    expect(events).toEqual([
      "fsync checkpoint.tmp",
      "rename checkpoint.tmp checkpoint",
      "fsync l",
    ]);
    expect(await g.local!.getCheckpoint("l")).toEqual(new Uint8Array([2]));
  });

  it("keeps the old checkpoint whole when a replace fails", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    await g.local!.putCheckpoint("l", new Uint8Array([1, 1, 1]));
    vi.spyOn(fs, "renameSync").mockImplementationOnce(() => {
      throw Object.assign(new Error("input/output error"), { code: "EIO" });
    });
    await expect(
      g.local!.putCheckpoint("l", new Uint8Array([2, 2, 2])),
    ).rejects.toBeInstanceOf(IoError);
    expect(await g.local!.getCheckpoint("l")).toEqual(
      new Uint8Array([1, 1, 1]),
    );
    expect(fs.readdirSync(path.join(dir, "l")).sort()).toEqual(["checkpoint"]);
  });

  it("ignores a temporary file left by a crash", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    await g.local!.putCheckpoint("l", new Uint8Array([7]));
    fs.writeFileSync(
      path.join(dir, "l", "checkpoint.tmp"),
      "half-written garbage",
      { mode: 0o644 },
    );
    expect(await g.local!.getCheckpoint("l")).toEqual(new Uint8Array([7]));
    fs.writeFileSync(path.join(dir, "l", "key.tmp"), "garbage", {
      mode: 0o644,
    });
    await g.local!.putKey("l", "k");
    expect(fs.statSync(path.join(dir, "l", "key")).mode & 0o777).toBe(0o600);
  });
});
