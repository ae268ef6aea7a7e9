// Two tabs of one origin write one ledger in the one IndexedDB database at once: neither
// loses or corrupts the other's writes (each head update is one IndexedDB transaction that
// reads and merges the current head set), and a tab opened afterwards sees both. A put in
// one tab reaches live queries in the others with no server (the ledger follows its storage).
import { afterAll, describe, expect, it } from "vitest";
import { callPage, startBrowserSuite } from "./harness.js";

const suite = await startBrowserSuite({
  ledger: "test/browser/pages/ledger.page.ts",
});
afterAll(() => suite.close());

const docs = (tab: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ _id: `${tab}-${i}`, tab, i }));

describe("two tabs, one ledger", () => {
  it("both write at once; neither loses the other's writes; a new tab sees all", async () => {
    const a = await suite.open("ledger");
    const b = await suite.open("ledger");
    await Promise.all([
      callPage(a, "putEach", "shared", docs("a", 40)),
      callPage(b, "putEach", "shared", docs("b", 40)),
    ]);
    await callPage(a, "close");
    await callPage(b, "close");
    const c = await suite.open("ledger");
    const all = await callPage<{ _id: string }[]>(c, "allDocs", "shared");
    expect(all.map((d) => d._id).sort()).toEqual(
      [...docs("a", 40), ...docs("b", 40)].map((d) => d._id).sort(),
    );
    // And it takes new writes on top of both branches.
    await callPage(c, "putEach", "shared", [{ _id: "c-0" }]);
    expect(await callPage<unknown[]>(c, "allDocs", "shared")).toHaveLength(81);
    await callPage(c, "close");
  });

  it("a put in one tab reaches a live query in the other, both ways", async () => {
    const a = await suite.open("ledger");
    const b = await suite.open("ledger");
    // Both open before either writes: b learns of a's writes by following, not on open.
    expect(await callPage(a, "allDocs", "live")).toEqual([]);
    expect(await callPage(b, "allDocs", "live")).toEqual([]);
    const fromA = docs("a", 10).map((d) => ({ ...d, status: "open" }));
    const fromB = docs("b", 10).map((d) => ({ ...d, status: "open" }));
    const ids = [...fromA, ...fromB].map((d) => d._id).sort();
    const seenByB = callPage<string[]>(b, "liveUntil", "live", ids);
    const seenByA = callPage<string[]>(a, "liveUntil", "live", ids);
    await Promise.all([
      callPage(a, "putEach", "live", fromA),
      callPage(b, "putEach", "live", fromB),
    ]);
    expect((await seenByB).sort()).toEqual(ids);
    expect((await seenByA).sort()).toEqual(ids);
    await callPage(a, "close");
    await callPage(b, "close");
  });

  it("agree on one key when both create the same new ledgers at the same moment", async () => {
    const a = await suite.open("ledger");
    const b = await suite.open("ledger");
    // Each tab makes a key for each new ledger; only one key per ledger may be stored, or
    // the other tab's commit is unreadable once both close.
    const names = Array.from({ length: 12 }, (_, i) => `new-${i}`);
    await callPage(a, "armPutInEach", names, { _id: "from-a" });
    await callPage(b, "armPutInEach", names, { _id: "from-b" });
    const starter = await suite.open("ledger");
    await callPage(starter, "release");
    await callPage(a, "settle");
    await callPage(b, "settle");
    await starter.close();
    await callPage(a, "close");
    await callPage(b, "close");
    const c = await suite.open("ledger");
    for (const name of names)
      expect(
        (await callPage<{ _id: string }[]>(c, "allDocs", name)).map(
          (d) => d._id,
        ),
      ).toEqual(["from-a", "from-b"]);
    await callPage(c, "close");
  });
});
