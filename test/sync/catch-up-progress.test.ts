// Catch-up progress: connect({ onProgress }) reports each merged batch of a pull, with the
// total the server announced on the first batch (commits.total).
import { afterEach, describe, expect, it } from "vitest";
import { openLedger } from "../../src/index.js";
import type { Progress } from "../../src/index.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { createSyncServer } from "../../src/server/index.js";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe.each(["ws", "http"])("catch-up progress over %s", (transport) => {
  it("reports commits merged of the total, batch by batch, ending at the total", async () => {
    // A small message limit, so 30 commits of ~1 KB come in several batches.
    const server = createSyncServer({
      backend: createMemoryBackend(),
      maxMessage: 4096,
    });
    const listener = await server.listen({ port: 0, host: "127.0.0.1" });
    cleanup.push(() => server.close());
    const url = `${listener.url.replace(/\/$/, "")}?transport=${transport}`;
    const room = `${transport}-${Date.now()}`;
    const a = await openLedger("feed", { storage: `memory://a-${room}` });
    cleanup.push(() => a.close());
    const ca = a.connect(url);
    for (let i = 0; i < 30; i++)
      await a.put({ _id: `d${i}`, pad: "x".repeat(800) });
    await ca.synced();

    const b = await openLedger("feed", {
      storage: `memory://b-${room}`,
      key: a.key,
    });
    cleanup.push(() => b.close());
    const seen: Progress[] = [];
    const cb = b.connect(url, { onProgress: (p) => seen.push(p) });
    await cb.synced();
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((p) => p.phase === "catch-up" && p.total === 30)).toBe(
      true,
    );
    const done = seen.map((p) => p.done);
    expect(done).toEqual([...done].sort((x, y) => x - y));
    expect(done[done.length - 1]).toBe(30);
  });
});
