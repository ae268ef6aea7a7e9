// A child process writes docs and is killed with SIGKILL mid-stream; on reopen every doc
// whose put had resolved is there and the store opens cleanly.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { tsxLoader } from "./fixtures/tsx-loader.js";
import { openLedger } from "../src/index.js";
import { createRandom, testSeed } from "../src/util/random.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function crashWhileWriting(
  url: string,
  first: number,
  killAfter: number,
): Promise<string[]> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      tsxLoader,
      join(import.meta.dirname, "fixtures/writer.ts"),
      url,
      String(first),
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const acked: string[] = [];
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    if (!line.startsWith("ok ")) continue;
    acked.push(...line.slice(3).split(" "));
    if (acked.length >= killAfter) {
      child.kill("SIGKILL");
      break;
    }
  }
  expect(await exited).toBe("SIGKILL");
  return acked;
}

describe("durability", () => {
  for (const mode of ["", "?durability=fsync"]) {
    it(`keeps every acknowledged write after SIGKILL (${mode || "default"})`, async () => {
      const seed = testSeed(process.env.KILN_SEED);
      console.log(`durability seed ${seed} (reproduce with KILN_SEED=${seed})`);
      const dir = await mkdtemp(join(tmpdir(), "kiln-crash-"));
      dirs.push(dir);
      const url = pathToFileURL(dir).href + mode;
      const rnd = createRandom(seed);
      // Two crashes in a row: the second run starts from a store that was itself crashed.
      const acked = [
        ...(await crashWhileWriting(url, 0, 200 + rnd.int(400))),
        ...(await crashWhileWriting(url, 1_000_000, 200 + rnd.int(400))),
      ];
      const ledger = await openLedger("crash", { storage: url });
      for (const id of acked) expect((await ledger.get(id))._id).toBe(id);
      const count = (await ledger.allDocs()).rows.length;
      expect(count).toBeGreaterThanOrEqual(acked.length);
      await ledger.close();
    });
  }
});

describe("one process per file ledger", () => {
  it("a second process is refused with a typed error while the first holds the ledger", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kiln-lock-"));
    dirs.push(dir);
    const url = pathToFileURL(dir).href;
    const child = spawn(
      process.execPath,
      [
        "--import",
        tsxLoader,
        join(import.meta.dirname, "fixtures/writer.ts"),
        url,
        "0",
      ],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) if (line.startsWith("ok ")) break;
    await expect(openLedger("crash", { storage: url })).rejects.toMatchObject({
      code: "locked",
    });
    child.kill("SIGKILL");
    await exited;
    // The dead owner's lock is stale and taken over.
    const ledger = await openLedger("crash", { storage: url });
    expect((await ledger.allDocs()).rows.length).toBeGreaterThan(0);
    await ledger.close();
  });
});
