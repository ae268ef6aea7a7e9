// Issue 11's resource defects, each reproduced against a SyncServer on a loopback port with raw
// frames: what a client that has not proved who it is may make the server read, a consumer
// that stops reading, connection caps and header timeouts. Budgets are set small so that each
// bound is reached quickly; every wait is on an event, with a timeout.
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { Backend } from "../../src/server/backend.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { signToken } from "../../src/server/index.js";
import { encodeMessage } from "../../src/sync/protocol/index.js";
import {
  eventually,
  makeChain,
  post,
  SECRET,
  startServer,
  TestSocket,
  wire,
  type Running,
} from "./harness.js";

let running: Running | undefined;
const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
  await running?.close();
  running = undefined;
});

const writeToken = signToken(SECRET, { ledgers: ["*"], write: true });

/** A raw TCP connection to the server, collecting what it answers. */
async function raw(port: number): Promise<{
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
  waitFor: (pattern: RegExp, timeout?: number) => Promise<void>;
}> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => undefined);
  let text = "";
  const listeners = new Set<() => void>();
  socket.on("data", (d: Buffer) => {
    text += d.toString("latin1");
    for (const l of listeners) l();
  });
  const closed = new Promise<void>((resolve) =>
    socket.once("close", () => resolve()),
  );
  cleanup.push(() => socket.destroy());
  return {
    socket,
    received: () => text,
    closed,
    waitFor: (pattern, timeout = 5_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(text)) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(`no ${pattern} in ${JSON.stringify(text.slice(0, 200))}`),
          );
        }, timeout);
        listeners.add(check);
        check();
      }),
  };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms),
    ),
  ]);
}

describe("what an unauthenticated client can make the server read", () => {
  it("checks an Authorization header before reading any of the body", async () => {
    running = await startServer({ secret: SECRET });
    const c = await raw(running.listener.port);
    // Headers announcing 32 MiB, and not one byte of body.
    c.socket.write(
      "POST /kiln HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.kiln+cbor\r\n" +
        "Authorization: Bearer kiln1.e30.AAAA\r\nContent-Length: 33554432\r\n\r\n",
    );
    await c.waitFor(/^HTTP\/1\.1 401 /);
    await within(c.closed, 5_000, "connection close after the refusal");
  });

  it("reads at most 64 KiB of a body without a verified token, then closes", async () => {
    running = await startServer({ secret: SECRET });
    const c = await raw(running.listener.port);
    c.socket.write(
      "POST /kiln HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.kiln+cbor\r\n" +
        "Content-Length: 33554432\r\n\r\n",
    );
    // Keep writing until the server answers; it must answer long before 32 MiB.
    let written = 0;
    const chunk = Buffer.alloc(16 * 1024, 0xa5);
    const answered = c.waitFor(/^HTTP\/1\.1 401 /, 10_000);
    let done = false;
    void answered.then(
      () => (done = true),
      () => (done = true),
    );
    while (!done && written < 32 * 1024 * 1024 && !c.socket.destroyed) {
      if (!c.socket.write(chunk))
        await Promise.race([
          new Promise((r) => c.socket.once("drain", r)),
          answered.catch(() => undefined),
          c.closed,
        ]);
      written += chunk.length;
    }
    await answered;
    expect(c.received()).toContain(
      "a request body over 65536 bytes needs a valid token",
    );
    await within(c.closed, 5_000, "connection close after the refusal");
    expect(written).toBeLessThan(16 * 1024 * 1024);
  });

  it("still reads a hello carrying its tokens in the body", async () => {
    running = await startServer({ secret: SECRET });
    const reply = await post(running.url, {
      t: "hello",
      id: 1,
      v: [2],
      tokens: [writeToken],
    });
    expect(reply.messages).toEqual([expect.objectContaining({ t: "welcome" })]);
  });

  it("closes a WebSocket whose message before a verified hello is over 64 KiB (1009), and reads full-size messages after one", async () => {
    running = await startServer({ secret: SECRET });
    const before = await TestSocket.open(running.wsUrl);
    before.sendRaw(new Uint8Array(65 * 1024));
    expect((await before.closed).code).toBe(1009);

    const after = await TestSocket.hello(running.wsUrl, writeToken);
    cleanup.push(() => after.close());
    const big = makeChain(1, [], 1024 * 1024);
    expect(
      await after.request({
        t: "push",
        id: 1,
        ledger: "big",
        commits: wire(big),
      }),
    ).toEqual([expect.objectContaining({ t: "ack", stored: 1 })]);
  });

  it("closes the socket of a hello refused as unauthorized instead of reading more", async () => {
    running = await startServer({ secret: SECRET });
    const socket = await TestSocket.open(running.wsUrl);
    for (let i = 0; i < 100; i++)
      socket.sendRaw(
        encodeMessage({
          t: "hello",
          id: i,
          v: [2],
          tokens: ["kiln1.e30.AAAA"],
        }),
      );
    expect(await socket.next()).toMatchObject({
      t: "error",
      id: 0,
      reason: "unauthorized",
    });
    expect(await socket.closed).toEqual({ code: 1008, reason: "unauthorized" });
    const server = running.server;
    await eventually(() => server.stats().connections === 0);
  });
});

describe("a consumer that stops reading", () => {
  it("is dropped with 1013 once its queue makes no progress, and the server holds no more than its budget", async () => {
    const maxQueuedBytes = 1024 * 1024;
    running = await startServer({
      limits: { maxQueuedBytes, stallTimeout: 500 },
    });
    // A ledger whose catch-up is ~4 MiB.
    const chain = makeChain(32, [], 128 * 1024);
    const seed = await TestSocket.hello(running.wsUrl);
    expect(
      await seed.request({
        t: "push",
        id: 1,
        ledger: "big",
        commits: wire(chain),
      }),
    ).toEqual([expect.objectContaining({ t: "ack" })]);
    await seed.close();

    const ws = new WebSocket(running.wsUrl);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    ws.on("error", () => undefined);
    cleanup.push(() => ws.terminate());
    ws.send(encodeMessage({ t: "hello", id: 0, v: [2] }));
    // Stop reading: the kernel buffers fill, then the server's queue.
    ws.pause();
    for (let i = 1; i <= 40; i++)
      ws.send(encodeMessage({ t: "pull", id: i, ledger: "big", have: [] }));
    const server = running.server;
    const deadline = Date.now() + 10_000;
    let peak = 0;
    while (server.stats().connections > 0) {
      peak = Math.max(peak, server.stats().queuedBytes);
      if (Date.now() > deadline)
        throw new Error("the slow consumer was not dropped");
      await new Promise((r) => setTimeout(r, 20));
    }
    // One message over the budget at most (a message always fits an empty queue).
    expect(peak).toBeLessThanOrEqual(
      maxQueuedBytes + 4 * 1024 * 1024 + 64 * 1024,
    );
    expect(server.stats().queuedBytes).toBe(0);
  });
});

describe("connection caps and timeouts", () => {
  it("refuses connections over the per-address cap, and takes new ones once some close", async () => {
    running = await startServer({ limits: { maxConnectionsPerAddress: 3 } });
    const open: TestSocket[] = [];
    for (let i = 0; i < 3; i++)
      open.push(await TestSocket.hello(running.wsUrl));
    cleanup.push(() => Promise.all(open.map((s) => s.close())));
    await expect(TestSocket.open(running.wsUrl)).rejects.toThrow();
    expect(running.server.stats().refusedConnections).toBeGreaterThanOrEqual(1);
    await open.pop()!.close();
    const again = await TestSocket.hello(running.wsUrl);
    open.push(again);
  });

  it("counts WebSockets toward the total cap, and reports connections by transport", async () => {
    running = await startServer({ limits: { maxConnections: 3 } });
    const open: TestSocket[] = [];
    for (let i = 0; i < 3; i++)
      open.push(await TestSocket.hello(running.wsUrl));
    cleanup.push(() => Promise.all(open.map((s) => s.close())));
    expect(running.server.stats()).toMatchObject({
      connections: 3,
      httpConnections: 0,
    });
    await expect(TestSocket.open(running.wsUrl)).rejects.toThrow();
    await open.pop()!.close();
    open.push(await TestSocket.hello(running.wsUrl));
  });

  it("closes a connection whose headers do not arrive in time (slowloris)", async () => {
    running = await startServer({
      limits: { headersTimeout: 300, requestTimeout: 600 },
    });
    const c = await raw(running.listener.port);
    c.socket.write("POST /kiln HTTP/1.1\r\nHost: x\r\n");
    const drip = setInterval(() => c.socket.write("X-A: b\r\n"), 50);
    cleanup.push(() => clearInterval(drip));
    await within(c.closed, 5_000, "slowloris close");
    expect(c.received()).toMatch(/^(HTTP\/1\.1 408 |)/);
  });
});

describe("shutting down", () => {
  it("finishes a push in flight, acknowledges it, then closes the WebSocket with 1001", async () => {
    const memory = createMemoryBackend();
    let entered!: () => void;
    const reached = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const backend: Backend = {
      ...memory,
      putCommits: async (ledger, commits, origin) => {
        entered();
        await gate;
        return memory.putCommits(ledger, commits, origin);
      },
    };
    running = await startServer({ backend });
    const socket = await TestSocket.hello(running.wsUrl);
    const chain = makeChain(2);
    socket.send({ t: "push", id: 1, ledger: "l", commits: wire(chain) });
    await reached;
    const closing = running.server.close();
    // No new session is taken meanwhile.
    const late = await TestSocket.open(running.wsUrl).catch(() => undefined);
    if (late) expect((await late.closed).code).toBe(1001);
    release();
    expect(await socket.next()).toMatchObject({ t: "ack", id: 1, stored: 2 });
    expect((await socket.closed).code).toBe(1001);
    await closing;
    expect(await memory.getHeads("l")).toEqual([chain[1]!.cid]);
  });
});

describe("a writer that pushes too fast", () => {
  it("is refused as rate-limited (429) past its ledger's budget, storing nothing, until the bucket refills", async () => {
    let now = Date.UTC(2030, 0, 1);
    running = await startServer({
      clock: () => now,
      limits: { pushBytesPerSecond: 10_000, pushBurst: 20_000 },
    });
    const chain = makeChain(3, [], 8_000);
    const push = (id: number, commits: typeof chain) =>
      post(running!.url, {
        t: "push",
        id,
        ledger: "fast",
        commits: wire(commits),
      });
    expect((await push(1, chain.slice(0, 2))).messages[0]).toMatchObject({
      t: "ack",
      stored: 2,
    });
    const refused = await push(2, chain.slice(2));
    expect(refused.status).toBe(429);
    expect(refused.messages[0]).toMatchObject({
      t: "error",
      id: 2,
      reason: "rate-limited",
    });
    expect(await running.backend.getHeads("fast")).toEqual([chain[1]!.cid]);
    // Other ledgers have their own budget.
    const other = await post(running.url, {
      t: "push",
      id: 3,
      ledger: "other",
      commits: wire(makeChain(2, [], 8_000)),
    });
    expect(other.messages[0]).toMatchObject({ t: "ack", stored: 2 });
    now += 1_000;
    expect((await push(4, chain.slice(2))).messages[0]).toMatchObject({
      t: "ack",
      stored: 1,
    });
  });
});
