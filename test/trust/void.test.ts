// A removed writer's commits that its removal does not follow are void: they stay in the
// DAG and count for nothing — on a replica that merged one before the removal reached it
// (taken back), and on one that learns of it after (never applied). Replicas converge.
import { afterEach, describe, expect, it } from "vitest";
import { openLedger, whoami } from "../../src/index.js";
import type { Ledger } from "../../src/index.js";

let n = 0;
const room = (what: string) => `memory://void-${what}-${process.pid}-${n++}`;
const FAST = { backoff: { baseMs: 5, maxMs: 20 } };
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function track(ledger: Promise<Ledger>): Promise<Ledger> {
  const l = await ledger;
  cleanup.push(() => l.close());
  return l;
}

const ids = async (l: Ledger) => (await l.allDocs()).rows.map((r) => r.id);

describe("void commits", () => {
  it("a write concurrent with its writer's removal counts for nothing, wherever it arrived first", async () => {
    const main = room("main");
    const side = room("side");
    const a = await track(
      openLedger("orders", { storage: room("a"), members: true }),
    );
    const bStorage = room("b");
    const cStorage = room("c");
    const forB = await a.invite(await whoami({ storage: bStorage }));
    const forC = await a.invite(await whoami({ storage: cStorage }));
    await a.put({ _id: "shared", v: 1 });
    const ca = a.connect(main, FAST);
    await ca.synced();
    const b = await track(
      openLedger("orders", { storage: bStorage, invitation: forB }),
    );
    const c = await track(
      openLedger("orders", { storage: cStorage, invitation: forC }),
    );
    const cbMain = b.connect(main, FAST);
    await cbMain.synced();
    await cbMain.close();

    // b, offline from a, overwrites a doc and adds one; c takes both through a side remote.
    await b.put({ _id: "shared", v: "by b" });
    await b.put({ _id: "b-only" });
    const cbSide = b.connect(side, FAST);
    await cbSide.synced();
    const ccSide = c.connect(side, FAST);
    await ccSide.synced();
    expect(await ids(c)).toEqual(["b-only", "shared"]);
    expect(await c.get("shared")).toMatchObject({ v: "by b" });

    // a, not having seen them, removes b.
    await a.remove(b.writer);
    await ca.synced();

    // c learns of the removal: b's concurrent writes are taken back.
    const ccMain = c.connect(main, FAST);
    await ccMain.synced();
    expect(await ids(c)).toEqual(["shared"]);
    expect(await c.get("shared")).toMatchObject({ v: 1 });

    // a gets b's writes through c after the removal: they never count.
    await ccMain.synced();
    await ca.synced();
    expect(a.clock.length).toBeGreaterThan(0);
    expect(await ids(a)).toEqual(["shared"]);
    expect(await a.get("shared")).toMatchObject({ v: 1 });
    expect([...a.clock].sort()).toEqual([...c.clock].sort());
  });
});
