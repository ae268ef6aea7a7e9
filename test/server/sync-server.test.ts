// The SyncServer over real sockets: negotiation, push/pull over both transports, catch-up in
// batches, live pushes (to subscribers of that ledger only, never back to the sender),
// HTTP long-polls, transport toggling, and no watcher or session left behind.
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { Backend } from "../../src/server/backend.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { createSyncServer, type ServerEvent } from "../../src/server/index.js";
import {
  CONTENT_TYPE,
  encodeMessage,
  FrameReader,
  decodeServerMessage,
  STREAM_CONTENT_TYPE,
  type Commits,
  type ServerMessage,
} from "../../src/sync/protocol/index.js";
import {
  eventually,
  headsOf,
  makeChain,
  makeCommit,
  post,
  startServer,
  str,
  TestSocket,
  wire,
  type Running,
} from "./harness.js";

let running: Running | undefined;
const sockets: TestSocket[] = [];

async function start(
  options: Parameters<typeof startServer>[0] = {},
): Promise<Running> {
  running = await startServer(options);
  return running;
}

async function hello(url: string, token?: string): Promise<TestSocket> {
  const socket = await TestSocket.hello(url, token);
  sockets.push(socket);
  return socket;
}

afterEach(async () => {
  for (const s of sockets.splice(0)) await s.close();
  await running?.close();
  running = undefined;
});

const commitsOf = (messages: ServerMessage[]) =>
  messages.flatMap((m) =>
    m.t === "commits" ? m.commits.map(([cid]) => cid.toString()) : [],
  );

describe("negotiation", () => {
  it("describes itself to a GET at any path", async () => {
    const { listener } = await start();
    const response = await fetch(`${listener.url}/any/base/path`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      kiln: { versions: [2], transports: ["ws", "http"] },
    });
  });

  it("answers hello over HTTP with the highest common version", async () => {
    const { url } = await start();
    const reply = await post(url, { t: "hello", id: 3, v: [7, 1, 2, 99] });
    expect(reply.status).toBe(200);
    expect(reply.contentType).toBe(STREAM_CONTENT_TYPE);
    expect(reply.messages).toEqual([
      expect.objectContaining({ t: "welcome", id: 3, v: 2 }),
    ]);
  });

  it("refuses a hello without a common version, over HTTP and WebSocket", async () => {
    const { url, wsUrl } = await start();
    const reply = await post(url, { t: "hello", id: 4, v: [1, 3] });
    expect(reply.status).toBe(400);
    expect(reply.messages).toEqual([
      expect.objectContaining({ t: "error", id: 4, reason: "version" }),
    ]);

    const socket = await TestSocket.open(wsUrl);
    sockets.push(socket);
    socket.send({ t: "hello", id: 1, v: [5] });
    expect(await socket.next()).toMatchObject({
      t: "error",
      id: 1,
      reason: "version",
    });
    // The session still waits for a hello it can accept.
    socket.send({ t: "hello", id: 2, v: [2] });
    expect(await socket.next()).toMatchObject({ t: "welcome", id: 2, v: 2 });
  });

  it("closes a WebSocket whose first message is not a hello", async () => {
    const { wsUrl } = await start();
    const socket = await TestSocket.open(wsUrl);
    sockets.push(socket);
    socket.send({ t: "ping", id: 9 });
    expect(await socket.next()).toMatchObject({
      t: "error",
      id: 9,
      reason: "bad-message",
    });
    expect((await socket.closed).code).toBe(1008);
  });

  it("closes a WebSocket whose first frame is text", async () => {
    const { wsUrl } = await start();
    const socket = await TestSocket.open(wsUrl);
    sockets.push(socket);
    socket.sendRaw("hello");
    expect(await socket.next()).toMatchObject({
      t: "error",
      reason: "bad-frame",
    });
    expect((await socket.closed).code).toBe(1008);
  });

  it("accepts a WebSocket upgrade at any path", async () => {
    const { listener } = await start();
    const socket = await hello(
      `${listener.url.replace("http:", "ws:")}/deep/base/x?y=1`,
    );
    socket.send({ t: "ping", id: 1 });
    expect(await socket.next()).toEqual({ t: "pong", id: 1 });
  });

  it("runs as a bare fetch handler, without a port", async () => {
    const backend = createMemoryBackend();
    const server = createSyncServer({ backend });
    const chain = makeChain(2);
    const request = (body: Uint8Array) =>
      new Request("https://serverless.example/sync", {
        method: "POST",
        headers: { "content-type": CONTENT_TYPE },
        body: body as Uint8Array<ArrayBuffer>,
      });
    const read = async (response: Response) => {
      const reader = new FrameReader(1 << 20);
      const frames = reader.push(new Uint8Array(await response.arrayBuffer()));
      return frames.map((f) => decodeServerMessage(f, 1 << 20));
    };
    const ack = await read(
      await server.fetch(
        request(
          encodeMessage({
            t: "push",
            id: 1,
            ledger: "l",
            commits: wire(chain),
          }),
        ),
      ),
    );
    expect(ack).toEqual([
      expect.objectContaining({ t: "ack", id: 1, stored: 2 }),
    ]);
    const pulled = await read(
      await server.fetch(
        request(encodeMessage({ t: "pull", id: 2, ledger: "l", have: [] })),
      ),
    );
    expect(commitsOf(pulled)).toEqual(chain.map((c) => c.cid.toString()));
    await server.close();
    await backend.close();
  });

  it("answers a CORS preflight", async () => {
    const { url } = await start();
    const response = await fetch(url, { method: "OPTIONS" });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-headers")).toContain(
      "authorization",
    );
  });
});

describe("push and pull", () => {
  it("round-trips commits over HTTP", async () => {
    const { url } = await start();
    const chain = makeChain(5);
    const ack = await post(url, {
      t: "push",
      id: 1,
      ledger: "orders",
      commits: wire(chain),
      heads: [chain[4]!.cid],
    });
    expect(ack.status).toBe(200);
    expect(ack.messages).toEqual([
      {
        t: "ack",
        id: 1,
        ledger: "orders",
        heads: [chain[4]!.cid],
        stored: 5,
      },
    ]);

    const all = await post(url, {
      t: "pull",
      id: 2,
      ledger: "orders",
      have: [],
    });
    expect(commitsOf(all.messages)).toEqual(chain.map((c) => c.cid.toString()));
    const last = all.messages.at(-1)!;
    expect(last).toMatchObject({ t: "heads", id: 2, ledger: "orders" });
    expect(headsOf(last)).toEqual(str([chain[4]!.cid]));
    // The bytes come back exactly.
    const first = all.messages[0] as Commits;
    expect(first.commits[0]![1]).toEqual(chain[0]!.bytes);

    const rest = await post(url, {
      t: "pull",
      id: 3,
      ledger: "orders",
      have: [chain[1]!.cid],
    });
    expect(commitsOf(rest.messages)).toEqual(
      chain.slice(2).map((c) => c.cid.toString()),
    );

    // A repeated push is idempotent.
    const again = await post(url, {
      t: "push",
      id: 4,
      ledger: "orders",
      commits: wire(chain),
    });
    expect(again.messages[0]).toMatchObject({ t: "ack", stored: 0 });
  });

  it("round-trips commits over a WebSocket", async () => {
    const { wsUrl } = await start();
    const socket = await hello(wsUrl);
    const chain = makeChain(4);
    const [ack] = await socket.request({
      t: "push",
      id: 1,
      ledger: "orders",
      commits: wire(chain),
    });
    expect(ack).toMatchObject({ t: "ack", id: 1, stored: 4 });

    const other = await hello(wsUrl);
    const answer = await other.request({
      t: "pull",
      id: 7,
      ledger: "orders",
      have: [chain[0]!.cid],
    });
    expect(commitsOf(answer)).toEqual(
      chain.slice(1).map((c) => c.cid.toString()),
    );
    for (const m of answer.slice(0, -1)) expect(m).toMatchObject({ id: 7 });
    expect(answer.at(-1)).toMatchObject({ t: "heads", id: 7 });
  });

  it("answers a client missing nothing in one exchange", async () => {
    const { url, wsUrl } = await start();
    const chain = makeChain(3);
    await post(url, { t: "push", id: 1, ledger: "l", commits: wire(chain) });
    const have = [chain[2]!.cid];

    const http = await post(url, { t: "pull", id: 2, ledger: "l", have });
    expect(http.messages).toEqual([
      { t: "heads", id: 2, ledger: "l", heads: have },
    ]);

    const socket = await hello(wsUrl);
    expect(
      await socket.request({ t: "pull", id: 3, ledger: "l", have }),
    ).toEqual([{ t: "heads", id: 3, ledger: "l", heads: have }]);
  });

  it("streams a large catch-up in batches within maxMessage, parents first", async () => {
    const maxMessage = 16 * 1024;
    const { url, wsUrl } = await start({ maxMessage });
    const chain = makeChain(40, [], 3000);
    for (let i = 0; i < chain.length; i += 4)
      expect(
        (
          await post(url, {
            t: "push",
            id: i,
            ledger: "big",
            commits: wire(chain.slice(i, i + 4)),
          })
        ).status,
      ).toBe(200);

    const http = await post(url, { t: "pull", id: 1, ledger: "big", have: [] });
    const socket = await hello(wsUrl);
    const ws = await socket.request({
      t: "pull",
      id: 1,
      ledger: "big",
      have: [],
    });
    for (const answer of [http.messages, ws]) {
      const batches = answer.filter((m) => m.t === "commits");
      expect(batches.length).toBeGreaterThan(5);
      for (const b of batches)
        expect(encodeMessage(b).length).toBeLessThanOrEqual(maxMessage);
      expect(commitsOf(answer)).toEqual(chain.map((c) => c.cid.toString()));
    }
  });

  it("merges concurrent branches into one head set", async () => {
    const { url, backend } = await start();
    const root = makeCommit();
    const a = makeCommit([root.cid]);
    const b = makeCommit([root.cid]);
    await post(url, {
      t: "push",
      id: 1,
      ledger: "l",
      commits: wire([root, a]),
    });
    const ack = await post(url, {
      t: "push",
      id: 2,
      ledger: "l",
      commits: wire([b]),
    });
    // A v2 ack names only the pushed commits that are heads now, not the whole head set.
    expect(headsOf(ack.messages[0])).toEqual(str([b.cid]));
    expect(str(await backend.getHeads("l"))).toEqual(str([a.cid, b.cid]));
    const merge = makeCommit([a.cid, b.cid]);
    const ack2 = await post(url, {
      t: "push",
      id: 3,
      ledger: "l",
      commits: wire([merge]),
      heads: [merge.cid],
    });
    expect(headsOf(ack2.messages[0])).toEqual(str([merge.cid]));
  });
});

describe("live pushes", () => {
  it("pushes new commits to a subscriber, never back to the sender", async () => {
    const { wsUrl, server } = await start();
    const subscriber = await hello(wsUrl);
    const sender = await hello(wsUrl);
    expect(
      await subscriber.request({
        t: "pull",
        id: 1,
        ledger: "l",
        have: [],
        live: true,
      }),
    ).toEqual([{ t: "heads", id: 1, ledger: "l", heads: [] }]);
    // The sender subscribes too: its own push must not come back to it.
    await sender.request({
      t: "pull",
      id: 1,
      ledger: "l",
      have: [],
      live: true,
    });
    expect(server.stats().subscriptions).toBe(2);

    const chain = makeChain(2);
    expect(
      await sender.request({
        t: "push",
        id: 2,
        ledger: "l",
        commits: wire(chain),
      }),
    ).toEqual([expect.objectContaining({ t: "ack", id: 2, stored: 2 })]);

    const live = await subscriber.next();
    expect(live).toEqual({
      t: "commits",
      ledger: "l",
      commits: wire(chain),
      heads: [chain[1]!.cid],
    });
    // A ping is a barrier: nothing arrived at the sender between its ack and the pong.
    expect(await sender.request({ t: "ping", id: 3 })).toEqual([
      { t: "pong", id: 3 },
    ]);
    expect(await subscriber.request({ t: "ping", id: 4 })).toEqual([
      { t: "pong", id: 4 },
    ]);

    // An HTTP push reaches both WebSocket subscribers.
    const next = makeCommit([chain[1]!.cid]);
    await post(wsUrl.replace("ws:", "http:"), {
      t: "push",
      id: 5,
      ledger: "l",
      commits: wire([next]),
    });
    for (const s of [subscriber, sender])
      expect(await s.next()).toMatchObject({
        t: "commits",
        commits: wire([next]),
        heads: [next.cid],
      });
  });

  it("sends a subscriber of ledger B nothing of ledger A", async () => {
    const { wsUrl } = await start();
    const subscriber = await hello(wsUrl);
    const sender = await hello(wsUrl);
    await subscriber.request({
      t: "pull",
      id: 1,
      ledger: "B",
      have: [],
      live: true,
    });
    const a = makeChain(3);
    await sender.request({ t: "push", id: 2, ledger: "A", commits: wire(a) });
    const b = makeChain(1);
    await sender.request({ t: "push", id: 3, ledger: "B", commits: wire(b) });
    const live = await subscriber.next();
    expect(live).toMatchObject({ t: "commits", ledger: "B", commits: wire(b) });
    expect(await subscriber.request({ t: "ping", id: 4 })).toEqual([
      { t: "pong", id: 4 },
    ]);
  });

  it("queues a change that lands while the pull is answered, without resending", async () => {
    const memory = createMemoryBackend();
    let gate: Promise<void> | undefined;
    // The subscriber's first read of the heads waits until the test has pushed.
    const backend: Backend = {
      ...memory,
      putCommits: memory.putCommits.bind(memory),
      getCommits: memory.getCommits.bind(memory),
      getMeta: memory.getMeta.bind(memory),
      watch: memory.watch.bind(memory),
      close: memory.close.bind(memory),
      getHeads: async (ledger) => {
        if (gate) await gate;
        return memory.getHeads(ledger);
      },
    };
    const { wsUrl } = await start({ backend });
    const subscriber = await hello(wsUrl);
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    subscriber.send({ t: "pull", id: 1, ledger: "l", have: [], live: true });
    await eventually(() => running!.server.stats().watches === 1);
    const commit = makeCommit();
    await memory.putCommits("l", [commit]);
    gate = undefined;
    open();

    const answer = await subscriber.until((m) => m.t === "heads");
    expect(commitsOf(answer)).toEqual([commit.cid.toString()]);
    // The queued change follows with the heads only: its commit was in the answer.
    expect(await subscriber.next()).toEqual({
      t: "commits",
      ledger: "l",
      commits: [],
      heads: [commit.cid],
    });
  });

  it("leaves no watcher, session or timer behind", async () => {
    const { wsUrl, url, server } = await start({ pollCap: 50 });
    const a = await hello(wsUrl);
    const b = await hello(wsUrl);
    await a.request({ t: "pull", id: 1, ledger: "x", have: [], live: true });
    await a.request({ t: "pull", id: 2, ledger: "y", have: [], live: true });
    // Subscribing twice to one ledger replaces the first subscription.
    await a.request({ t: "pull", id: 3, ledger: "x", have: [], live: true });
    await b.request({ t: "pull", id: 1, ledger: "x", have: [], live: true });
    expect(server.stats()).toMatchObject({
      connections: 2,
      subscriptions: 3,
      watches: 3,
    });
    await post(url, { t: "pull", id: 1, ledger: "x", have: [], wait: 10_000 });
    await a.close();
    await b.close();
    await eventually(() => server.stats().connections === 0);
    expect(server.stats()).toMatchObject({
      connections: 0,
      subscriptions: 0,
      watches: 0,
      polls: 0,
    });
  });
});

describe("HTTP long-poll", () => {
  it("holds a pull that misses nothing until the ledger changes", async () => {
    const { url, server } = await start();
    const root = makeCommit();
    await post(url, { t: "push", id: 1, ledger: "l", commits: wire([root]) });
    const poll = post(url, {
      t: "pull",
      id: 2,
      ledger: "l",
      have: [root.cid],
      wait: 20_000,
    });
    await eventually(() => server.stats().polls === 1);
    const child = makeCommit([root.cid]);
    await post(url, { t: "push", id: 3, ledger: "l", commits: wire([child]) });
    const answer = await poll;
    expect(answer.messages).toEqual([
      { t: "commits", id: 2, total: 1, ledger: "l", commits: wire([child]) },
      { t: "heads", id: 2, ledger: "l", heads: [child.cid] },
    ]);
    expect(server.stats()).toMatchObject({ polls: 0, watches: 0 });
  });

  it("answers with the heads when the cap passes first", async () => {
    const { url } = await start({ pollCap: 100 });
    const started = Date.now();
    const answer = await post(url, {
      t: "pull",
      id: 1,
      ledger: "quiet",
      have: [],
      wait: 60_000,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(answer.messages).toEqual([
      { t: "heads", id: 1, ledger: "quiet", heads: [] },
    ]);
  });

  it("answers a held poll as unavailable when the server closes", async () => {
    const { url, server } = await start();
    const poll = post(url, {
      t: "pull",
      id: 1,
      ledger: "l",
      have: [],
      wait: 20_000,
    });
    await eventually(() => server.stats().polls === 1);
    await server.close();
    const answer = await poll;
    expect(answer.status).toBe(503);
    expect(answer.messages[0]).toMatchObject({ reason: "unavailable", id: 1 });
  });

  it("stops waiting when the client goes away", async () => {
    const { url, server } = await start();
    const abort = new AbortController();
    const poll = post(
      url,
      { t: "pull", id: 1, ledger: "l", have: [], wait: 20_000 },
      { signal: abort.signal },
    );
    await eventually(() => server.stats().polls === 1);
    abort.abort();
    await expect(poll).rejects.toThrow();
    await eventually(() => server.stats().polls === 0);
    expect(server.stats().watches).toBe(0);
  });
});

describe("transports", () => {
  const upgradeStatus = (url: string) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once("open", () => {
        ws.close();
        resolve(101);
      });
      ws.once("error", (e) => {
        if (!String(e.message).includes("Unexpected server response"))
          reject(e);
      });
    });

  it("refuses upgrades while WebSocket is off and accepts them again after", async () => {
    const { wsUrl, url, server } = await start();
    const before = await hello(wsUrl);
    server.setTransports({ ws: false });
    // Open sessions are closed so their clients fall back to HTTP.
    expect((await before.closed).code).toBe(1001);
    expect(await upgradeStatus(wsUrl)).toBe(403);
    const welcome = await post(url, { t: "hello", id: 1, v: [2] });
    expect(welcome.messages[0]).toMatchObject({ transports: ["http"] });
    expect(
      (await post(url, { t: "pull", id: 2, ledger: "l", have: [] })).status,
    ).toBe(200);

    server.setTransports({ ws: true });
    expect(await upgradeStatus(wsUrl)).toBe(101);
    const after = await hello(wsUrl);
    expect(await after.request({ t: "ping", id: 5 })).toEqual([
      { t: "pong", id: 5 },
    ]);
  });

  it("refuses pull and push over HTTP while HTTP is off", async () => {
    const { url, server } = await start({ transports: { http: false } });
    const pull = await post(url, { t: "pull", id: 1, ledger: "l", have: [] });
    expect(pull.status).toBe(503);
    expect(pull.messages[0]).toMatchObject({ reason: "unavailable", id: 1 });
    // Negotiation still works and names what is on.
    const welcome = await post(url, { t: "hello", id: 2, v: [2] });
    expect(welcome.messages[0]).toMatchObject({ transports: ["ws"] });
    expect(() => server.setTransports({ ws: false })).toThrow(/at least one/);
  });

  it("drops a peer that stops answering pings", async () => {
    const { wsUrl, server } = await start({ heartbeat: 50 });
    const alive = await hello(wsUrl);
    const ws = new WebSocket(wsUrl, { autoPong: false });
    const closed = new Promise<number>((resolve) =>
      ws.once("close", (code) => resolve(code)),
    );
    // 1006: the server terminated the socket without a close frame.
    expect(await closed).toBe(1006);
    await eventually(() => server.stats().connections === 1);
    expect(await alive.request({ t: "ping", id: 1 })).toEqual([
      { t: "pong", id: 1 },
    ]);
  });

  it("closes sessions and listeners on close", async () => {
    const { wsUrl, listener, server } = await start();
    const socket = await hello(wsUrl);
    await server.close();
    expect((await socket.closed).code).toBe(1001);
    await expect(fetch(listener.url)).rejects.toThrow();
  });
});

describe("failures", () => {
  it("answers a storage failure as unavailable and a server bug as internal, and logs both", async () => {
    const memory = createMemoryBackend();
    const events: ServerEvent[] = [];
    let mode: "ok" | "down" | "corrupt" = "ok";
    const backend: Backend = {
      ...memory,
      putCommits: (l, c, o) => memory.putCommits(l, c, o),
      getCommits: (l, c) => memory.getCommits(l, c),
      getMeta: async (l, c) =>
        mode === "corrupt" ? c.map(() => undefined) : memory.getMeta(l, c),
      getHeads: async (l) => {
        if (mode === "down") throw new Error("disk on fire");
        return memory.getHeads(l);
      },
      putSnapshot: (l, s) => memory.putSnapshot(l, s),
      getSnapshot: (l) => memory.getSnapshot(l),
      deleteLedger: (l) => memory.deleteLedger(l),
      watch: (l, f) => memory.watch(l, f),
      close: () => memory.close(),
    };
    const { url, wsUrl } = await start({
      backend,
      log: (e) => events.push(e),
    });
    await post(url, {
      t: "push",
      id: 1,
      ledger: "l",
      commits: wire(makeChain(2)),
    });
    const socket = await hello(wsUrl);

    mode = "down";
    const down = await post(url, { t: "pull", id: 2, ledger: "l", have: [] });
    expect(down.status).toBe(503);
    expect(down.messages[0]).toMatchObject({ reason: "unavailable", id: 2 });
    expect(
      await socket.request({ t: "pull", id: 3, ledger: "l", have: [] }),
    ).toEqual([
      expect.objectContaining({ t: "error", id: 3, reason: "unavailable" }),
    ]);
    // The operator's event names the operation, the ledger and the backend's own error.
    const storage = events.find((e) => e.kind === "storage");
    expect(storage).toMatchObject({
      kind: "storage",
      operation: "read heads",
      ledger: "l",
    });
    expect(storage?.kind === "storage" && storage.cause).toMatchObject({
      message: "disk on fire",
    });

    // The heads name commits the backend says it does not hold: missingCommits fails.
    mode = "corrupt";
    const bug = await post(url, { t: "pull", id: 4, ledger: "l", have: [] });
    expect(bug.status).toBe(500);
    expect(bug.messages[0]).toMatchObject({ reason: "internal", id: 4 });
    expect(events).toContainEqual(expect.objectContaining({ kind: "failure" }));

    mode = "ok";
    expect(await socket.request({ t: "ping", id: 5 })).toEqual([
      { t: "pong", id: 5 },
    ]);
    const fine = await post(url, { t: "pull", id: 6, ledger: "l", have: [] });
    expect(fine.status).toBe(200);
  });
});
