// A page syncs with a SyncServer: over WebSocket with a `kiln serve` started here, over HTTP
// when the server refuses the upgrade, across a reload while the server is down (the outbox
// survives), and offline (context.setOffline) while a Node client writes, converging once
// back online. The page and the Node client share the ledger key; the server is blind.
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { openLedger } from "../../src/index.js";
import type { Ledger } from "../../src/index.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { createSyncServer } from "../../src/server/index.js";
import { callPage, startBrowserSuite } from "./harness.js";
import { waitForIds } from "./wait-for-ids.js";

const suite = await startBrowserSuite({
  sync: "test/browser/pages/sync.page.ts",
});
afterAll(() => suite.close());

/** `kiln serve --storage memory:// --port 0`, in this process; its URL once listening. */
async function kilnServe(): Promise<{
  url: string;
  stop: () => Promise<void>;
}> {
  const stop = new AbortController();
  let listening: (url: string) => void = () => undefined;
  const url = new Promise<string>((resolve) => (listening = resolve));
  const exited = main(
    ["serve", "--storage", "memory://", "--port", "0"],
    {},
    (line) => {
      const found = /listening on (http:\/\/\S+)/.exec(line);
      if (found) listening(found[1]!);
    },
    () => undefined,
    stop.signal,
  );
  const first = await Promise.race([
    url,
    exited.then((code) => `exit ${code}`),
  ]);
  if (!first.startsWith("http")) throw new Error(`kiln serve: ${first}`);
  return {
    url: first,
    stop: async () => {
      stop.abort();
      expect(await exited).toBe(0);
    },
  };
}

let ledgers = 0;
/** A Node replica connected to `url`, and the key a page needs for the same ledger. */
async function nodeReplica(url: string) {
  const name = `orders-${process.pid}-${++ledgers}`;
  const ledger: Ledger = await openLedger(name, { storage: "memory://" });
  const key = ledger.key;
  const connection = ledger.connect(url, {
    backoff: { baseMs: 50, maxMs: 400 },
  });
  return { name, key, ledger, connection };
}

const ids = async (ledger: Ledger) =>
  (await ledger.allDocs()).rows.map((r) => r.id);

const waitFor = (ledger: Ledger, want: string[]) => waitForIds(ledger, want);

const docs = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ _id: `${prefix}-${i}`, i }));

describe("sync from chromium", () => {
  it("syncs both ways with kiln serve over WebSocket", async () => {
    const server = await kilnServe();
    const node = await nodeReplica(server.url);
    const page = await suite.open("sync");
    try {
      await node.ledger.bulk(docs("node", 5));
      await callPage(page, "open", node.name, node.key);
      await callPage(
        page,
        "connect",
        node.name,
        server.url.replace(/^http/, "ws"),
      );
      await callPage(page, "live", node.name, "ws");
      await callPage(
        page,
        "waitFor",
        node.name,
        docs("node", 5).map((d) => d._id),
      );
      await callPage(page, "putAll", node.name, docs("page", 5));
      await waitFor(
        node.ledger,
        docs("page", 5).map((d) => d._id),
      );
      expect(await callPage(page, "status", node.name)).toBe("live ws");
    } finally {
      await callPage(page, "close");
      await page.close();
      await node.ledger.close();
      await server.stop();
    }
  });

  it("falls back to HTTP when the server refuses the WebSocket upgrade", async () => {
    const server = createSyncServer({
      backend: createMemoryBackend(),
      transports: { ws: false },
    });
    const { url } = await server.listen({ port: 0 });
    const node = await nodeReplica(url);
    const page = await suite.open("sync");
    try {
      await callPage(page, "open", node.name, node.key);
      await callPage(page, "connect", node.name, url.replace(/^http/, "ws"));
      await callPage(page, "live", node.name, "http");
      await callPage(page, "putAll", node.name, docs("page", 3));
      await waitFor(
        node.ledger,
        docs("page", 3).map((d) => d._id),
      );
      await node.ledger.bulk(docs("node", 3));
      await callPage(
        page,
        "waitFor",
        node.name,
        docs("node", 3).map((d) => d._id),
      );
    } finally {
      await callPage(page, "close");
      await page.close();
      await node.ledger.close();
      await server.close();
    }
  });

  it("keeps its outbox across a reload while the server is down", async () => {
    const backend = createMemoryBackend();
    let server = createSyncServer({ backend });
    const { url, port } = await server.listen({ port: 0 });
    const node = await nodeReplica(url);
    const page = await suite.open("sync");
    try {
      await callPage(page, "open", node.name, node.key);
      await callPage(page, "connect", node.name, url);
      await callPage(page, "live", node.name, "ws");
      await server.close();
      await callPage(page, "putAll", node.name, docs("outage", 4));
      expect(await callPage(page, "pending", node.name)).toBeGreaterThan(0);
      await page.reload();
      await page.waitForFunction(() => "kiln" in globalThis);
      // Reopened from IndexedDB: the key is stored, the writes are there, none pushed yet.
      await callPage(page, "open", node.name, node.key);
      expect((await callPage<string[]>(page, "ids", node.name)).sort()).toEqual(
        docs("outage", 4).map((d) => d._id),
      );
      server = createSyncServer({ backend });
      await server.listen({ port });
      await callPage(page, "connect", node.name, url);
      await callPage(page, "synced", node.name);
      await waitFor(
        node.ledger,
        docs("outage", 4).map((d) => d._id),
      );
    } finally {
      await callPage(page, "close");
      await page.close();
      await node.ledger.close();
      await server.close();
    }
  });

  it("keeps writing offline and converges with a Node client once back online", async () => {
    const server = await kilnServe();
    const node = await nodeReplica(server.url);
    const page = await suite.open("sync");
    try {
      await callPage(page, "open", node.name, node.key);
      await callPage(page, "connect", node.name, server.url);
      await callPage(page, "live", node.name, "ws");
      await suite.chromium.context.setOffline(true);
      // The browser drops the socket: the page is cut off, not just quiet.
      await callPage(page, "down", node.name);
      await callPage(page, "putAll", node.name, docs("offline", 5));
      expect(await callPage(page, "pending", node.name)).toBeGreaterThan(0);
      await node.ledger.bulk(docs("node", 5));
      await node.connection.synced();
      expect(await ids(node.ledger)).not.toContain("offline-0");
      await suite.chromium.context.setOffline(false);
      await callPage(page, "synced", node.name);
      await callPage(
        page,
        "waitFor",
        node.name,
        docs("node", 5).map((d) => d._id),
      );
      await waitFor(
        node.ledger,
        docs("offline", 5).map((d) => d._id),
      );
      expect((await ids(node.ledger)).sort()).toEqual(
        (await callPage<string[]>(page, "ids", node.name)).sort(),
      );
    } finally {
      await suite.chromium.context.setOffline(false);
      await callPage(page, "close");
      await page.close();
      await node.ledger.close();
      await server.stop();
    }
  });
});
