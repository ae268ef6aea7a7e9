// A rolling restart of three `kiln serve` processes on one Postgres while clients write
// (issue 11): each process in turn is taken out of the balancer, sent SIGTERM (it finishes
// the pushes in flight and closes its WebSockets with 1001) and replaced by a new process in
// the balancer (started beforehand, as a surge deployment does: the test then waits for a
// cold start of `kiln serve` once, with the first three, not three times more). Nothing a
// client had acknowledged is lost, and a client whose server went away reconnects through the
// balancer at once: with a 20 s backoff, any backoff would show in its status timeline.
import net from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openPostgresBackend } from "../../src/server/backends/postgres/postgres-backend.js";
import {
  dropSchema,
  freshSchema,
  postgresUrl,
  requirePostgres,
} from "../fixtures/postgres.js";
import {
  killAll,
  startClient,
  startServer,
  type ClientProcess,
  type ServerProcess,
} from "../sync/processes.js";

const schema = freshSchema("rolling");
const dirs: string[] = [];
afterEach(async () => {
  killAll();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
afterAll(() => dropSchema(schema));

/**
 * A TCP balancer on loopback: each new connection goes to the next target in rotation, as
 * a load balancer's round robin does; a target taken out gets no new connections.
 */
async function startBalancer(): Promise<{
  port: number;
  targets: (number | undefined)[];
  close(): Promise<void>;
}> {
  const targets: (number | undefined)[] = [];
  const sockets = new Set<net.Socket>();
  let next = 0;
  const server = net.createServer((client) => {
    const live = targets.filter((t): t is number => t !== undefined);
    const port = live[next++ % live.length];
    if (port === undefined) return client.destroy();
    const upstream = net.connect(port, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    targets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("kiln serve on postgres://, restarted one process at a time", () => {
  it("loses nothing acknowledged, and clients leave a server going away at once", async () => {
    await requirePostgres();
    const storage = postgresUrl(schema);
    // Migrated once, so the three processes do not all start on an empty schema.
    await (await openPostgresBackend(storage)).close();
    const serve = () => startServer(["--port", "0", "--storage", storage]);
    const all = await Promise.all(Array.from({ length: 6 }, () => serve()));
    const servers: ServerProcess[] = all.slice(0, 3);
    const replacements = all.slice(3);
    const balancer = await startBalancer();
    servers.forEach((s, i) => (balancer.targets[i] = s.port));
    const url = `http://127.0.0.1:${balancer.port}`;

    const writers: ClientProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const c = startClient();
      const dir = await mkdtemp(join(tmpdir(), "kiln-rolling-"));
      dirs.push(dir);
      const key =
        writers.length > 0
          ? ((await writers[0]!.call({ op: "key" })).key as string)
          : undefined;
      await c.call({
        op: "open",
        name: "orders",
        storage: pathToFileURL(dir).href,
        ...(key ? { key } : {}),
      });
      await c.call({ op: "connect", url, backoffMs: 20_000 });
      await c.call({ op: "synced" });
      writers.push(c);
    }

    // Every writer puts docs in small batches until told to stop.
    let writing = true;
    const written = writers.map(() => 0);
    const loops = writers.map(async (c, w) => {
      while (writing) {
        await c.call({
          op: "put",
          prefix: `w${w}-`,
          from: written[w]!,
          count: 1,
        });
        written[w]! += 1;
        // A writer's pace (a doc every 20 ms), not a wait for anything to settle.
        await new Promise((r) => setTimeout(r, 20));
      }
    });

    try {
      for (let i = 0; i < servers.length; i++) {
        const before = [...written];
        // Out of the balancer first, as a rolling restart does; then SIGTERM.
        balancer.targets[i] = undefined;
        await servers[i]!.stop("SIGTERM");
        servers[i] = replacements[i]!;
        balancer.targets[i] = servers[i]!.port;
        // Writes went on meanwhile (on the two other processes).
        await waitUntil(
          () => written.every((n, w) => n >= before[w]! + 10),
          "writes after the restart",
        );
      }
    } finally {
      writing = false;
      await Promise.all(loops);
    }

    // Each writer's outbox drains (the server acknowledged all it wrote), then each holds
    // the last doc of every writer, live or by catch-up.
    for (const c of writers) await c.call({ op: "synced" });
    const lastDocs = written.map((n, w) => `w${w}-${n - 1}`);
    for (const c of writers)
      for (const id of lastDocs) await c.call({ op: "waitFor", id });
    const total = written.reduce((a, b) => a + b, 0);
    for (const [w, c] of writers.entries()) {
      const state = await c.call({ op: "state" });
      const docs = state.docs as [string, unknown][];
      // Every writer holds every doc of every writer: all reached the server and back.
      expect(docs.length, `writer ${w}`).toBe(total);
      const timeline = state.timeline as string[];
      // Whichever processes served it went away under it (1001); it never backed off.
      expect(timeline, `writer ${w}: ${timeline.join(" ")}`).not.toContain(
        "backoff",
      );
      expect(
        timeline.filter((s) => s.startsWith("live")).length,
        `writer ${w} reconnected`,
      ).toBeGreaterThanOrEqual(2);
      expect(timeline, `writer ${w}: ${timeline.join(" ")}`).not.toContain(
        "live:http",
      );
    }
    // A fresh replica pulling from the restarted processes gets every doc too.
    const reader = startClient();
    const dir = await mkdtemp(join(tmpdir(), "kiln-rolling-reader-"));
    dirs.push(dir);
    await reader.call({
      op: "open",
      name: "orders",
      storage: pathToFileURL(dir).href,
      key: (await writers[0]!.call({ op: "key" })).key,
    });
    await reader.call({ op: "connect", url });
    await reader.call({ op: "synced" });
    expect(
      ((await reader.call({ op: "state" })).docs as unknown[]).length,
    ).toBe(total);
    await balancer.close();
  }, 120_000);
});

async function waitUntil(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
