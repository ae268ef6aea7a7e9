import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import {
  afterAll,
  afterEach,
  beforeEach,
  describe,
  expect,
  it,
  vi,
} from "vitest";
import type { CID } from "../blocks/cid.js";
import { cidFor } from "../blocks/cid.js";
import { nodeCrypto } from "../blocks/node-crypto.js";
import { InvalidUrlError, IoError } from "../util/errors.js";
import { encodeLedgerName } from "../util/ledger-name.js";
import { folderGateway } from "./folder-gateway.js";
import type { Gateway, HeadSet } from "./gateway.js";
import { describeGatewayConformance } from "./gateway-conformance.js";
import { createRegistry } from "./registry.js";

const registry = createRegistry([folderGateway]);
const dirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-folder-gateway-"));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const skip = {
  local:
    "a remote only: a shared folder never receives a ledger's key or checkpoint",
};

describeGatewayConformance(
  "file:// folder remote",
  () => registry.open(pathToFileURL(tempDir()).href, "remote"),
  { openSibling: (first) => registry.open(first.url, "remote"), skip },
);

describe("with no file events (a network share)", () => {
  beforeEach(() => {
    vi.spyOn(fs, "watch").mockImplementation(() => {
      throw Object.assign(new Error("no file events here"), { code: "ENOSYS" });
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  describeGatewayConformance(
    "file:// folder remote, polling",
    () => registry.open(`${pathToFileURL(tempDir()).href}?poll=20`, "remote"),
    { openSibling: (first) => registry.open(first.url, "remote"), skip },
  );
});

interface Commit {
  cid: CID;
  bytes: Uint8Array;
}

function makeCommit(size = 200): Commit {
  const bytes = new Uint8Array(randomBytes(size));
  return { cid: cidFor(nodeCrypto, bytes), bytes };
}

const open: Gateway[] = [];
async function openAt(dir: string, query = ""): Promise<Gateway> {
  const g = await registry.open(pathToFileURL(dir).href + query, "remote");
  open.push(g);
  return g;
}

afterEach(async () => {
  vi.restoreAllMocks();
  vi.useRealTimers();
  await Promise.all(open.splice(0).map((g) => g.close()));
});

async function putHead(
  g: Gateway,
  ledger: string,
  c: Commit,
  remove: readonly CID[] = [],
): Promise<HeadSet> {
  await g.putCommit(ledger, c.cid, c.bytes);
  return g.putHeads(ledger, { add: [c.cid], remove });
}

describe("folderGateway.parse", () => {
  it("parses a url once into typed options", () => {
    expect(folderGateway.parse(new URL("file:///mnt/share"))).toEqual({
      dir: "/mnt/share",
      pollMs: 1000,
    });
    expect(folderGateway.parse(new URL("file:///mnt/share/?poll=250"))).toEqual(
      { dir: "/mnt/share", pollMs: 250 },
    );
    expect(folderGateway.parse(new URL("file:///my%20share"))).toEqual({
      dir: "/my share",
      pollMs: 1000,
    });
  });

  it.each([
    ["file://server/share", "not host"],
    ["file://./data", "relative"],
    ["file://../data", "relative"],
    ["file:///data?durability=fsync", "unknown option"],
    ["file:///data?poll=fast", "poll must be"],
    ["file:///data?poll=1.5", "poll must be"],
    ["file:///data?poll=5", "poll must be"],
    ["file:///data?poll=", "poll must be"],
    ["file:///data?poll=100&poll=100", "twice"],
    ["file:///data#x", "fragment"],
    ["file:///data/a%2Fb", "not a usable local path"],
  ])("rejects %s", (url, detail) => {
    expect(() => registry.check(url, "remote")).toThrow(InvalidUrlError);
    expect(() => registry.check(url, "remote")).toThrow(detail);
  });

  it("names the gateway by its normalised url", async () => {
    const dir = tempDir();
    expect((await openAt(dir)).url).toBe(pathToFileURL(dir).href);
    expect((await openAt(`${dir}/`, "?poll=1000")).url).toBe(
      pathToFileURL(dir).href,
    );
    expect((await openAt(dir, "?poll=50")).url).toBe(
      `${pathToFileURL(dir).href}?poll=50`,
    );
  });

  it("refuses a folder that does not exist, or a file, with IoError", async () => {
    // A missing folder is likely an unmounted share: creating it would sync into nowhere.
    const missing = path.join(tempDir(), "not-mounted");
    await expect(openAt(missing)).rejects.toBeInstanceOf(IoError);
    expect(fs.existsSync(missing)).toBe(false);
    const file = path.join(tempDir(), "plain-file");
    fs.writeFileSync(file, "x");
    await expect(openAt(file)).rejects.toBeInstanceOf(IoError);
  });
});

describe("folder layout", () => {
  it("keeps one file per commit and one empty file per head, as documented", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    const ledger = "trade board/α";
    const [a, b] = [makeCommit(), makeCommit()];
    await putHead(g, ledger, a);
    await putHead(g, ledger, b, [a.cid]);
    const root = path.join(dir, encodeLedgerName(ledger));
    expect(fs.readdirSync(dir)).toEqual([encodeLedgerName(ledger)]);
    expect(fs.readdirSync(root).sort()).toEqual(["commits", "heads"]);
    // No temporaries are left behind.
    expect(fs.readdirSync(path.join(root, "commits")).sort()).toEqual(
      [a.cid.toString(), b.cid.toString()].sort(),
    );
    expect(
      new Uint8Array(
        fs.readFileSync(path.join(root, "commits", a.cid.toString())),
      ),
    ).toEqual(a.bytes);
    expect(fs.readdirSync(path.join(root, "heads"))).toEqual([
      b.cid.toString(),
    ]);
    expect(fs.statSync(path.join(root, "heads", b.cid.toString())).size).toBe(
      0,
    );
  });

  it("reads nothing into being: reading a ledger creates no files", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    const c = makeCommit();
    expect(await g.getHeads("ghost")).toEqual([]);
    expect(await g.getCommit("ghost", c.cid)).toBeUndefined();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("removes a head that is not there as a no-op, even on a fresh ledger", async () => {
    const g = await openAt(tempDir());
    const c = makeCommit();
    expect(await g.putHeads("fresh", { add: [], remove: [c.cid] })).toEqual([]);
  });

  it("ignores temporaries, conflict copies and non-canonical names among the heads", async () => {
    const dir = tempDir();
    const g = await openAt(dir);
    const c = makeCommit();
    await putHead(g, "l", c);
    const heads = path.join(dir, "l", "heads");
    const name = c.cid.toString();
    for (const junk of [
      `.${name}.1234.tmp`,
      `${name} (conflicted copy 2024-01-01)`,
      // "B" is upper-case base32: the same CID spelled another way must not count twice.
      `B${name.slice(1).toUpperCase()}`,
      ".DS_Store",
      "desktop.ini",
    ])
      fs.writeFileSync(path.join(heads, junk), "");
    expect((await g.getHeads("l")).map(String)).toEqual([name]);
  });

  it("leaves a commit file that already exists alone", async () => {
    // A CID names immutable bytes: rewriting it could only lose a race. Readers verify.
    const dir = tempDir();
    const g = await openAt(dir);
    const c = makeCommit();
    await g.putCommit("l", c.cid, c.bytes);
    const file = path.join(dir, "l", "commits", c.cid.toString());
    const before = fs.statSync(file);
    await g.putCommit("l", c.cid, new Uint8Array(c.bytes.length));
    expect(fs.statSync(file).ino).toBe(before.ino);
    expect(await g.getCommit("l", c.cid)).toEqual(c.bytes);
  });
});

describe("two handles on one folder", () => {
  it("keeps both writers' new heads when each supersedes its own at once", async () => {
    const dir = tempDir();
    const [a, b] = [await openAt(dir), await openAt(dir)];
    const [a1, b1, a2, b2] = [
      makeCommit(),
      makeCommit(),
      makeCommit(),
      makeCommit(),
    ];
    await Promise.all([putHead(a, "l", a1), putHead(b, "l", b1)]);
    await Promise.all([
      putHead(a, "l", a2, [a1.cid]),
      putHead(b, "l", b2, [b1.cid]),
    ]);
    expect((await a.getHeads("l")).map(String)).toEqual(
      [a2.cid.toString(), b2.cid.toString()].sort(),
    );
  });

  it("never loses a new head to a remove racing a re-add of the superseded one", async () => {
    const dir = tempDir();
    const [a, b] = [await openAt(dir), await openAt(dir)];
    for (let round = 0; round < 20; round++) {
      const old = makeCommit();
      const next = makeCommit();
      await putHead(a, `l${round}`, old);
      await a.putCommit(`l${round}`, next.cid, next.bytes);
      await Promise.all([
        a.putHeads(`l${round}`, { add: [next.cid], remove: [old.cid] }),
        b.putHeads(`l${round}`, { add: [old.cid], remove: [] }),
      ]);
      // `old` may survive beside `next` (an ancestor of it: harmless); `next` always does.
      expect((await b.getHeads(`l${round}`)).map(String)).toContain(
        next.cid.toString(),
      );
    }
  });
});

describe("folder watch", () => {
  it("reports another handle's heads, never this handle's own", async () => {
    const dir = tempDir();
    const [a, b] = [await openAt(dir, "?poll=10"), await openAt(dir)];
    const seen: string[][] = [];
    let wake: () => void = () => undefined;
    const stop = a.watch!("l", (heads) => {
      seen.push(heads.map(String));
      wake();
    });
    const [own, other] = [makeCommit(), makeCommit()];
    await putHead(a, "l", own);
    // Proving an absence takes a window: long enough for the file event's scan and several
    // polls, any of which would have announced the own write if it were not filtered.
    await new Promise((resolve) => setTimeout(resolve, 150));
    await putHead(b, "l", other);
    while (!seen.some((h) => h.includes(other.cid.toString())))
      await new Promise<void>((resolve) => (wake = resolve));
    stop();
    // Every report came from b's write: a's own write alone was never announced.
    for (const heads of seen) expect(heads).toContain(other.cid.toString());
    expect(seen.at(-1)).toEqual(
      [own.cid.toString(), other.cid.toString()].sort(),
    );
  });

  it("leaves no timer or file watcher behind after unsubscribe and close", async () => {
    vi.useFakeTimers({
      toFake: ["setInterval", "clearInterval", "setTimeout", "clearTimeout"],
    });
    const closed = vi.fn();
    const realWatch = fs.watch.bind(fs);
    const watch = vi
      .spyOn(fs, "watch")
      .mockImplementation((...args: Parameters<typeof fs.watch>) => {
        const watcher = realWatch(...args);
        const close = watcher.close.bind(watcher);
        watcher.close = () => {
          closed();
          close();
        };
        return watcher;
      });
    const dir = tempDir();
    const g = await registry.open(pathToFileURL(dir).href, "remote");
    const stopOne = g.watch!("one", () => undefined);
    g.watch!("two", () => undefined);
    g.watch!("two", () => undefined);
    // The first scan attaches the file watcher; getHeads is queued after it.
    await Promise.all([g.getHeads("one"), g.getHeads("two")]);
    expect(watch).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(2);
    stopOne();
    expect(vi.getTimerCount()).toBe(1);
    expect(closed).toHaveBeenCalledTimes(1);
    await g.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(closed).toHaveBeenCalledTimes(2);
  });
});
