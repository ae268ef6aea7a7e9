// Golden fixtures guard the format (docs/format.md): the recorded commits must still be
// produced byte for byte, and still be readable. Regenerate only for an intended format
// change: node --import tsx test/fixtures/golden/generate.ts
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CID } from "multiformats/cid";
import { describe, expect, it } from "vitest";
import { memoryGateway, openLedger } from "../src/index.js";
import { fromBase64url, toBase64url } from "../src/util/bytes.js";
import {
  GOLDEN_KEY,
  treeDocs,
  writeScenario,
} from "./fixtures/golden/scenario.js";

interface Golden {
  key: string;
  clocks: string[][];
  commits: Record<string, string>;
  treeClock: string[];
}

const golden = JSON.parse(
  readFileSync(
    join(import.meta.dirname, "fixtures/golden/golden.json"),
    "utf8",
  ),
) as Golden;

describe("golden fixtures", () => {
  it("the scenario still seals to the recorded commits, byte for byte", async () => {
    const room = `memory://golden-check-${Math.random().toString(36).slice(2)}`;
    const ledger = await openLedger("golden", {
      storage: room,
      key: GOLDEN_KEY,
    });
    expect(await writeScenario(ledger)).toEqual(golden.clocks);
    const gateway = await memoryGateway.open(
      memoryGateway.parse(new URL(room)),
    );
    const made: Record<string, string> = {};
    for (const cid of await gateway.local!.listCommits("golden"))
      made[cid.toString()] = toBase64url(
        (await gateway.getCommit("golden", cid))!,
      );
    expect(made).toEqual(golden.commits);
    await ledger.close();
    await gateway.close();
  });

  it("the doc tree of 1000 docs has the recorded root (in the recorded commit)", async () => {
    const ledger = await openLedger("tree", {
      storage: "memory://",
      key: GOLDEN_KEY,
    });
    await ledger.bulk(treeDocs());
    expect(ledger.clock).toEqual(golden.treeClock);
    await ledger.close();
  });

  it("the recorded commits still open and read", async () => {
    const room = `memory://golden-read-${Math.random().toString(36).slice(2)}`;
    const gateway = await memoryGateway.open(
      memoryGateway.parse(new URL(room)),
    );
    for (const [cid, bytes] of Object.entries(golden.commits))
      await gateway.putCommit("golden", CID.parse(cid), fromBase64url(bytes)!);
    await gateway.putHeads("golden", {
      add: golden.clocks.at(-1)!.map((c) => CID.parse(c)),
      remove: [],
    });
    const ledger = await openLedger("golden", {
      storage: room,
      key: golden.key,
    });
    expect(ledger.clock).toEqual(golden.clocks.at(-1));
    expect((await ledger.allDocs()).rows).toEqual([
      { id: "order-2", doc: { _id: "order-2", customer: "globex", amount: 8 } },
      {
        id: "order-3",
        doc: { _id: "order-3", nested: { deep: [1, { x: "é" }] } },
      },
      {
        id: "order-4",
        doc: { _id: "order-4", bytes: new Uint8Array([0, 1, 254, 255]) },
      },
    ]);
    await expect(ledger.get("order-1")).rejects.toMatchObject({
      code: "not-found",
    });
    expect((await ledger.changes()).rows.map((r) => r.id)).toEqual([
      "order-3",
      "order-4",
      "order-1",
      "order-2",
    ]);
    await ledger.close();
    await gateway.close();
  });
});
