// Two tabs of one origin write one ledger in the one IndexedDB database at once: neither
// loses or corrupts the other's writes (each head update is one IndexedDB transaction that
// reads and merges the current head set), and a tab opened afterwards sees both. Live
// delivery between open tabs and a leader tab for remotes are not built yet (docs/gateways.md).
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
