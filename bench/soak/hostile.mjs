// The soak bench's hostile clients (issue 11), each a loop that runs until `stop()` and
// reconnects when the server ends it, recording what the server did:
//   nonReader  an authenticated WebSocket that sends pings and never reads the replies
//   slowloris  an HTTP request whose headers arrive one byte a second
//   bigPosts   32 MiB unauthenticated POST bodies, one after another
//   wideHeads  root commits pushed to one ledger until the head set reaches MAX_HEADS and
//              the server refuses more; then one more refused push a second
// Raw sockets and protocol frames from the built library (dist/), as the server tests do.
import { connect } from "node:net";
import { pathToFileURL } from "node:url";
import { WebSocket } from "ws";

/** Loads the protocol pieces of the build at `dist` (a directory). */
export async function loadWire(dist) {
  const load = (p) => import(pathToFileURL(`${dist}/${p}`).href);
  const [protocol, envelope, cid, crypto] = await Promise.all([
    load("sync/protocol/index.js"),
    load("blocks/envelope.js"),
    load("blocks/cid.js"),
    load("blocks/node-crypto.js"),
  ]);
  return {
    encode: protocol.encodeMessage,
    decode: (bytes) => protocol.decodeServerMessage(bytes, 64 * 1024 * 1024),
    maxHeads: protocol.MAX_HEADS,
    /** A root commit: a real envelope with random "ciphertext", signed in form only. */
    rootCommit() {
      const bytes = envelope.encodeEnvelope({
        v: 2,
        parents: [],
        iv: crypto.nodeCrypto.randomBytes(12),
        data: crypto.nodeCrypto.randomBytes(64),
        w: new Uint8Array(32),
        s: new Uint8Array(64),
      });
      return [cid.cidFor(crypto.nodeCrypto, bytes), bytes];
    },
  };
}

const BIG_POST_GAP_MS = 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const count = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);

/** Runs `attempt` again and again until `running()` is false. */
async function repeat(running, attempt) {
  while (running()) {
    try {
      await attempt();
    } catch {
      await sleep(200);
    }
  }
}

/** A raw TCP socket; resolves `closed` with what the server answered first. */
function rawSocket(port) {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  let first = "";
  socket.on("data", (d) => {
    if (first.length < 200) first += d.toString("latin1");
  });
  const closed = new Promise((r) =>
    socket.once("close", () =>
      r(first.split("\r\n")[0] || "closed, no answer"),
    ),
  );
  return { socket, closed };
}

/**
 * Starts every hostile client against `port`; `tokens.write` may write any ledger.
 * Returns `stop()`, which ends them and resolves to a summary per client.
 */
export function startHostile({ port, wire, tokens, wideLedger, only }) {
  let on = true;
  const running = () => on;
  // `only`: the names of the clients to run (all when undefined)
  const loop = (name, attempt) =>
    only && !only.includes(name) ? Promise.resolve() : repeat(running, attempt);
  const sockets = new Set();
  const track = (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    return s;
  };
  const url = `ws://127.0.0.1:${port}`;

  // ---- a WebSocket that sends pings and never reads
  const nonReader = { connections: 0, pingsSent: 0, closes: new Map() };
  const nonReading = loop("nonReader", async () => {
    const ws = track(new WebSocket(url));
    nonReader.connections++;
    const closed = new Promise((r) =>
      ws.once("close", (code, reason) => r(`${code} ${reason}`.trim())),
    );
    ws.on("error", () => undefined);
    await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
    ws.send(wire.encode({ t: "hello", id: 0, v: [2], tokens: [tokens.write] }));
    ws._socket.pause(); // never read again: every pong stays on the server's side
    let id = 1;
    while (on && ws.readyState === WebSocket.OPEN) {
      if (ws.bufferedAmount < 1024 * 1024) {
        for (let i = 0; i < 100; i++)
          ws.send(wire.encode({ t: "ping", id: id++ }));
        nonReader.pingsSent += 100;
      }
      await sleep(5);
    }
    const ours = !on;
    ws.terminate();
    const code = await closed;
    count(nonReader.closes, ours ? "open until the end" : code);
  });

  // ---- slowloris: headers one byte a second
  const slow = { connections: 0, answers: new Map(), heldMs: [] };
  const slowloris = loop("slowloris", async () => {
    const { socket, closed } = rawSocket(port);
    track(socket);
    slow.connections++;
    const t0 = Date.now();
    await new Promise((r) => socket.once("connect", r));
    const text =
      "POST /kiln HTTP/1.1\r\nHost: x\r\nX-Slow: " + "a".repeat(10_000);
    let i = 0;
    let done = false;
    void closed.then(() => (done = true));
    while (on && !done && i < text.length) {
      socket.write(text[i++]);
      await sleep(1000);
    }
    socket.destroy();
    const answer = await closed;
    if (on) slow.heldMs.push(Date.now() - t0);
    count(slow.answers, answer);
  });

  // ---- large unauthenticated POST bodies
  const big = { posts: 0, answers: new Map(), maxSentBytes: 0 };
  const bigPosting = loop("bigPosts", async () => {
    const { socket, closed } = rawSocket(port);
    track(socket);
    await new Promise((r) => socket.once("connect", r));
    big.posts++;
    socket.write(
      "POST /kiln HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.kiln+cbor\r\n" +
        "Content-Length: 33554432\r\n\r\n",
    );
    const chunk = Buffer.alloc(64 * 1024, 0xa5);
    let sent = 0;
    let done = false;
    void closed.then(() => (done = true));
    while (on && !done && sent < 32 * 1024 * 1024) {
      if (!socket.write(chunk))
        await Promise.race([
          new Promise((r) => socket.once("drain", r)),
          closed,
          sleep(1000),
        ]);
      sent += chunk.length;
    }
    socket.destroy();
    big.maxSentBytes = Math.max(big.maxSentBytes, sent);
    count(big.answers, await closed);
    await sleep(BIG_POST_GAP_MS);
  });

  // ---- one ledger pushed to a wide head set
  const wide = { accepted: 0, refusals: new Map(), closes: new Map() };
  const widening = loop("wideHeads", async () => {
    const ws = track(new WebSocket(url, { maxPayload: 64 * 1024 * 1024 }));
    const replies = [];
    let wake;
    ws.on("message", (d) => {
      replies.push(wire.decode(new Uint8Array(d)));
      wake?.();
    });
    ws.on("error", () => undefined);
    const closed = new Promise((r) =>
      ws.once(
        "close",
        (code, reason) => (r(`${code} ${reason}`.trim()), wake?.()),
      ),
    );
    await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
    const request = async (message) => {
      ws.send(wire.encode(message));
      while (replies.length === 0 && ws.readyState === WebSocket.OPEN)
        await new Promise((r) => (wake = r));
      return replies.shift();
    };
    let id = 0;
    const hello = await request({
      t: "hello",
      id: id++,
      v: [2],
      tokens: [tokens.write],
    });
    if (hello?.t !== "welcome") throw new Error(`no welcome: ${hello?.t}`);
    while (on && ws.readyState === WebSocket.OPEN) {
      const full = wide.accepted >= wire.maxHeads;
      const n = full ? 1 : Math.min(256, wire.maxHeads - wide.accepted);
      const commits = Array.from({ length: n }, () => wire.rootCommit());
      const reply = await request({
        t: "push",
        id: id++,
        ledger: wideLedger,
        commits,
      });
      if (reply?.t === "ack") wide.accepted += n;
      else
        count(
          wide.refusals,
          reply ? `${reply.t} ${reply.reason ?? ""}`.trim() : "none",
        );
      if (full) await sleep(1000);
    }
    const ours = !on;
    ws.terminate();
    const code = await closed;
    count(wide.closes, ours ? "open until the end" : code);
  });

  return async function stop() {
    on = false;
    for (const s of sockets) s.destroy?.() ?? s.terminate?.();
    await Promise.all([nonReading, slowloris, bigPosting, widening]);
    return { nonReader, slow, big, wide };
  };
}

// Run as a child of soak.mjs (so the honest clients' process is not the attackers'): it
// sends { start: {...} } then { stop: true }; the child answers with the summary.
if (process.send) {
  let stop;
  process.on("message", async (m) => {
    if (m.start) {
      const wire = await loadWire(m.start.dist);
      stop = startHostile({ ...m.start, wire });
      process.send({ started: true });
    } else if (m.stop) {
      const summary = await stop();
      const plain = JSON.parse(
        JSON.stringify(summary, (_, v) => (v instanceof Map ? [...v] : v)),
      );
      process.send({ summary: plain }, () => process.exit(0));
    }
  });
}
