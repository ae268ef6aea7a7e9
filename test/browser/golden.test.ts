// The golden fixtures read byte for byte the same in Chromium as in Node: the browser
// entry (WebCrypto, @noble/hashes, fflate) seals the recorded scenario to the recorded
// commits, and reads the recorded commits to what Node reads from them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CID } from "multiformats/cid";
import { afterAll, describe, expect, it } from "vitest";
import { memoryGateway, openLedger } from "../../src/index.js";
import type { Ledger } from "../../src/index.js";
import { fromBase64url } from "../../src/util/bytes.js";
import { GOLDEN_KEY } from "../fixtures/golden/scenario.js";
import { callPage, startBrowserSuite } from "./harness.js";
import { plain } from "./pages/plain.js";

interface Golden {
  key: string;
  clocks: string[][];
  commits: Record<string, string>;
  treeClock: string[];
}

const read = (file: string) =>
  JSON.parse(
    readFileSync(join(import.meta.dirname, "../fixtures/golden", file), "utf8"),
  ) as Golden;
// The files test/golden.test.ts reads.
const golden = read("golden.json");
const goldenV1 = read("golden-v1.json");

const suite = await startBrowserSuite({
  golden: "test/browser/pages/golden.page.ts",
});
const page = await suite.open("golden");
afterAll(() => suite.close());

/** Runs `read` on the recorded commits opened in Node (a memory store). */
async function inNode<R>(
  recorded: Golden,
  read: (ledger: Ledger) => Promise<R>,
): Promise<R> {
  const url = `memory://golden-node-${process.pid}-${Math.random()}`;
  const gateway = await memoryGateway.open(memoryGateway.parse(new URL(url)));
  for (const [cid, bytes] of Object.entries(recorded.commits))
    await gateway.putCommit("golden", CID.parse(cid), fromBase64url(bytes)!);
  await gateway.putHeads("golden", {
    add: recorded.clocks.at(-1)!.map((c) => CID.parse(c)),
    remove: [],
  });
  const ledger = await openLedger("golden", {
    storage: url,
    key: recorded.key,
  });
  try {
    return await read(ledger);
  } finally {
    await ledger.close();
    await gateway.close();
  }
}

/** What Node reads from the recorded commits. */
const readInNode = (recorded: Golden) =>
  inNode(recorded, async (ledger) => ({
    clock: ledger.clock,
    docs: plain((await ledger.allDocs()).rows),
    changes: (await ledger.changes()).rows.map((r) => r.id),
  }));

describe("golden fixtures in chromium", () => {
  it("the scenario seals to the recorded commits, byte for byte", async () => {
    expect(await callPage(page, "sealScenario", GOLDEN_KEY)).toEqual({
      clocks: golden.clocks,
      commits: golden.commits,
    });
  });

  it("the doc tree of the recorded docs has the recorded clock", async () => {
    expect(await callPage(page, "treeClock", GOLDEN_KEY)).toEqual(
      golden.treeClock,
    );
  });

  it("the recorded commits read in IndexedDB as they read in Node", async () => {
    const inNode = await readInNode(golden);
    expect(inNode.docs).not.toEqual([]);
    expect(await callPage(page, "readRecorded", golden)).toEqual(inNode);
  });

  it("history and a past clock read in Chromium as in Node (writers from the signatures)", async () => {
    const clock = golden.clocks[2]!;
    const node = await inNode(golden, async (ledger) => ({
      history: plain(await ledger.history("order-2")),
      past: plain((await (await ledger.at(clock)).allDocs()).rows),
    }));
    expect(node.history).toHaveLength(2);
    expect(
      await callPage(page, "auditRecorded", golden, "order-2", clock),
    ).toEqual(node);
  });

  it("a v1 store is refused with format-version, as in Node", async () => {
    expect(await callPage(page, "readRecorded", goldenV1)).toEqual({
      error: "format-version",
    });
  });
});
