// Two processes share one folder remote with no lock: concurrent writers lose no head, every
// commit stays readable whole, and a watcher in a third process hears the result — with file
// events, and by polling alone as on a network share that has none.
import { spawn } from "node:child_process";
import fs from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CID, verifyCid } from "../src/blocks/cid.js";
import { decodeEnvelope } from "../src/blocks/envelope.js";
import { nodeCrypto } from "../src/blocks/node-crypto.js";
import { folderGateway } from "../src/gateways/folder-gateway.js";
import type { Gateway, HeadSet } from "../src/gateways/gateway.js";
import { tsxLoader } from "./fixtures/tsx-loader.js";

interface Written {
  writer: string;
  cid: string;
  parents: string[];
}

const dirs: string[] = [];
const opened: Gateway[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(opened.splice(0).map((g) => g.close()));
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function openFolder(url: string): Promise<Gateway> {
  const g = await folderGateway.open(folderGateway.parse(new URL(url)));
  opened.push(g);
  return g;
}

/** A running folder-writer.ts: `go()` starts it, `done` resolves with what it wrote. */
interface Writer {
  ready: Promise<void>;
  go(): void;
  done: Promise<Written[]>;
}

function startWriter(
  url: string,
  ledger: string,
  name: string,
  count: number,
  mergeEvery: number,
): Writer {
  const child = spawn(
    process.execPath,
    [
      "--import",
      tsxLoader,
      join(import.meta.dirname, "fixtures/folder-writer.ts"),
      url,
      ledger,
      name,
      String(count),
      String(mergeEvery),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => resolve(code)),
  );
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const done = (async () => {
    const written: Written[] = [];
    let finished = false;
    for await (const line of createInterface({ input: child.stdout })) {
      if (line === "ready") onReady();
      else if (line === "done") finished = true;
      else written.push(JSON.parse(line) as Written);
    }
    const code = await exited;
    if (!finished || code !== 0)
      throw new Error(`writer ${name} exited with ${code} before it was done`);
    return written;
  })();
  // A writer that dies before "ready" must fail the test, not hang it.
  done.catch(onReady);
  return {
    ready,
    done,
    go: () => child.stdin.end("go\n"),
  };
}

/** Records the head sets a watch reports; `until` waits for the latest to match. */
function recordHeads(
  g: Gateway,
  ledger: string,
): {
  seen: string[][];
  until(match: (heads: string[]) => boolean, ms: number): Promise<void>;
  stop(): void;
} {
  const seen: string[][] = [];
  let wake: () => void = () => undefined;
  const stop = g.watch!(ledger, (heads: HeadSet) => {
    seen.push(heads.map(String));
    wake();
  });
  return {
    seen,
    stop,
    async until(match, ms) {
      const deadline = Date.now() + ms;
      while (seen.length === 0 || !match(seen.at(-1)!)) {
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(
            `watch ${ledger}: no matching heads within ${ms} ms (last: ${JSON.stringify(seen.at(-1))})`,
          );
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, left);
        });
        clearTimeout(timer);
      }
    },
  };
}

async function tempFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kiln-folder-"));
  dirs.push(dir);
  return dir;
}

describe("folder remote shared by two processes", () => {
  it("loses no head and no commit when two processes write 200 commits each at once", async () => {
    const dir = await tempFolder();
    const url = pathToFileURL(dir).href;
    const ledger = "shared orders";
    const writers = [
      startWriter(url, ledger, "a", 200, 7),
      startWriter(url, ledger, "b", 200, 11),
    ];
    await Promise.all(writers.map((w) => w.ready));

    const watcher = await openFolder(url);
    const watched = recordHeads(watcher, ledger);
    for (const w of writers) w.go();
    const written = (await Promise.all(writers.map((w) => w.done))).flat();
    expect(written).toHaveLength(400);

    // Every putHeads removed only its commit's parents, so the heads are exactly the commits
    // no other commit names as a parent.
    const superseded = new Set(written.flatMap((w) => w.parents));
    const expected = written
      .map((w) => w.cid)
      .filter((cid) => !superseded.has(cid))
      .sort();
    // The writers overlapped: each merged a commit of the other's.
    const writerOf = new Map(written.map((w) => [w.cid, w.writer]));
    for (const [me, other] of [
      ["a", "b"],
      ["b", "a"],
    ])
      expect(
        written.some(
          (w) =>
            w.writer === me && w.parents.some((p) => writerOf.get(p) === other),
        ),
        `${me} merged a commit of ${other}`,
      ).toBe(true);

    const reader = await openFolder(url);
    const heads = (await reader.getHeads(ledger)).map(String);
    expect(heads).toEqual(expected);

    // Every commit reads back whole, with the parents its writer gave it, and all of them are
    // reachable from the final heads: a lost head would strand its chain.
    const byCid = new Map(written.map((w) => [w.cid, w]));
    const reached = new Set<string>();
    const stack = heads.map((h) => CID.parse(h));
    while (stack.length > 0) {
      const cid = stack.pop()!;
      if (reached.has(cid.toString())) continue;
      reached.add(cid.toString());
      const bytes = await reader.getCommit(ledger, cid);
      expect(bytes, `commit ${cid.toString()}`).toBeDefined();
      verifyCid(nodeCrypto, cid, bytes!);
      const parents = decodeEnvelope(bytes!, cid.toString()).parents;
      expect(parents.map(String)).toEqual(byCid.get(cid.toString())?.parents);
      stack.push(...parents);
    }
    expect([...reached].sort()).toEqual([...byCid.keys()].sort());

    // The watcher in this process, a third writer's view, arrives at the same heads.
    await watched.until((seen) => same(seen, expected), 30_000);
    watched.stop();
  });

  it("tells a watcher by polling alone, where the file system has no change events", async () => {
    const dir = await tempFolder();
    const ledger = "polled";
    // As on many network shares: fs.watch is unavailable, so only the poll can notice.
    vi.spyOn(fs, "watch").mockImplementation(() => {
      throw Object.assign(new Error("no file events here"), {
        code: "ENOSYS",
      });
    });
    const watcher = await openFolder(`${pathToFileURL(dir).href}?poll=50`);
    const writer = startWriter(pathToFileURL(dir).href, ledger, "c", 5, 0);
    const watched = recordHeads(watcher, ledger);
    await writer.ready;
    writer.go();
    const written = await writer.done;
    const last = written.at(-1)!.cid;
    await watched.until((seen) => same(seen, [last]), 10_000);
    watched.stop();
    expect(fs.watch).toHaveBeenCalled();
  });
});

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
