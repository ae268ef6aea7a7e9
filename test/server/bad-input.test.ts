// Every kind of bad input gets a typed error — with the request id when it can be read — and
// changes nothing stored; the same connection then serves its next good message, and other
// clients never notice. Each case runs over a WebSocket and over HTTP.
import { createHash } from "node:crypto";
import * as dagCbor from "@ipld/dag-cbor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  encodeMessage,
  HTTP_STATUS,
  type ClientMessage,
  type ErrorReason,
} from "../../src/sync/protocol/index.js";
import {
  makeChain,
  makeCommit,
  post,
  snapshot,
  startServer,
  TestSocket,
  wire,
  type Running,
} from "./harness.js";

const MAX_MESSAGE = 64 * 1024;
const LEDGERS = ["l", "other"];

let running: Running;
let socket: TestSocket;
let bystander: TestSocket;
const base = makeChain(3);

beforeAll(async () => {
  running = await startServer({ maxMessage: MAX_MESSAGE, maxCommits: 5 });
  socket = await TestSocket.hello(running.wsUrl);
  bystander = await TestSocket.hello(running.wsUrl);
  await bystander.request({
    t: "pull",
    id: 1,
    ledger: "l",
    have: [],
    live: true,
  });
  expect(
    await socket.request({
      t: "push",
      id: 1,
      ledger: "l",
      commits: wire(base),
    }),
  ).toEqual([expect.objectContaining({ t: "ack", stored: 3 })]);
  // The bystander's live push of the base commits.
  expect(await bystander.next()).toMatchObject({ t: "commits", ledger: "l" });
});

afterAll(async () => {
  await socket.close();
  await bystander.close();
  await running.close();
});

const tip = () => base[2]!.cid;
const flipped = (bytes: Uint8Array, at: number) => {
  const out = bytes.slice();
  out[at]! ^= 0x01;
  return out;
};

interface Case {
  name: string;
  body: () => Uint8Array;
  reason: ErrorReason;
  /** The id the error must carry (undefined: none can be read). */
  id: number | undefined;
}

const child = () => makeCommit([tip()]);
const cases: Case[] = [
  {
    name: "malformed CBOR",
    body: () => new Uint8Array([0xff, 0x00, 0x13]),
    reason: "bad-frame",
    id: undefined,
  },
  {
    name: "a CBOR array, not a map",
    body: () => dagCbor.encode([1, 2, 3]),
    reason: "bad-frame",
    id: undefined,
  },
  {
    name: "a map without t",
    body: () => dagCbor.encode({ id: 41 }),
    reason: "bad-message",
    id: 41,
  },
  {
    name: "an unknown type",
    body: () => dagCbor.encode({ t: "delete-everything", id: 42 }),
    reason: "unknown-type",
    id: 42,
  },
  {
    name: "a server message type",
    body: () =>
      dagCbor.encode({ t: "ack", id: 43, ledger: "l", heads: [], stored: 1 }),
    reason: "unknown-type",
    id: 43,
  },
  {
    name: "a pull without ledger",
    body: () => dagCbor.encode({ t: "pull", id: 44, have: [] }),
    reason: "bad-message",
    id: 44,
  },
  {
    name: "a pull with a non-CID have",
    body: () =>
      dagCbor.encode({
        t: "pull",
        id: 45,
        ledger: "l",
        have: [new Uint8Array([1, 2, 3])],
      }),
    reason: "bad-message",
    id: 45,
  },
  {
    name: "an empty ledger name",
    body: () => encodeMessage({ t: "pull", id: 46, ledger: "", have: [] }),
    reason: "bad-message",
    id: 46,
  },
  {
    name: "a hello with a wrong version",
    body: () => encodeMessage({ t: "hello", id: 47, v: [1] }),
    reason: "version",
    id: 47,
  },
  {
    name: "an oversized message",
    body: () =>
      encodeMessage({
        t: "push",
        id: 48,
        ledger: "l",
        commits: wire([makeCommit([tip()], MAX_MESSAGE)]),
      }),
    reason: "too-large",
    id: 48,
  },
  {
    name: "too many commits",
    body: () =>
      encodeMessage({
        t: "push",
        id: 49,
        ledger: "l",
        commits: wire(makeChain(6, [tip()], 10)),
      }),
    reason: "too-large",
    id: 49,
  },
  {
    name: "a commit whose bytes do not match its CID",
    body: () => {
      const c = child();
      return encodeMessage({
        t: "push",
        id: 50,
        ledger: "l",
        commits: [[c.cid, flipped(c.bytes, c.bytes.length - 1)]],
      });
    },
    reason: "cid-mismatch",
    id: 50,
  },
  {
    name: "a good commit followed by a mismatched one",
    body: () => {
      const [a, b] = makeChain(2, [tip()]);
      return encodeMessage({
        t: "push",
        id: 51,
        ledger: "l",
        commits: [
          [a!.cid, a!.bytes],
          [b!.cid, flipped(b!.bytes, 20)],
        ],
      });
    },
    reason: "cid-mismatch",
    id: 51,
  },
  {
    name: "a CID of another hash or codec",
    body: () => {
      const c = child();
      return dagCbor.encode({
        t: "push",
        id: 52,
        ledger: "l",
        commits: [[rawCid(c.cid.bytes), c.bytes]],
      });
    },
    reason: "cid-mismatch",
    id: 52,
  },
  {
    name: "bytes that are not a commit envelope",
    body: () => {
      const bytes = dagCbor.encode({ hello: "world" });
      const cid = makeCidFor(bytes);
      return dagCbor.encode({
        t: "push",
        id: 53,
        ledger: "l",
        commits: [[cid, bytes]],
      });
    },
    reason: "bad-commit",
    id: 53,
  },
  {
    name: "a commit whose parent is not held",
    body: () =>
      encodeMessage({
        t: "push",
        id: 54,
        ledger: "l",
        commits: wire([makeCommit([makeCommit().cid])]),
      }),
    reason: "missing-commit",
    id: 54,
  },
  {
    name: "a child before its parent",
    body: () => {
      const [a, b] = makeChain(2, [tip()]);
      return encodeMessage({
        t: "push",
        id: 55,
        ledger: "l",
        commits: wire([b!, a!]),
      });
    },
    reason: "missing-commit",
    id: 55,
  },
  {
    name: "a parent held only by another ledger",
    body: () =>
      encodeMessage({
        t: "push",
        id: 56,
        ledger: "other",
        commits: wire([child()]),
      }),
    reason: "missing-commit",
    id: 56,
  },
  {
    name: "heads naming unknown commits",
    body: () =>
      encodeMessage({
        t: "push",
        id: 57,
        ledger: "l",
        commits: wire([child()]),
        heads: [makeCommit().cid],
      }),
    reason: "missing-commit",
    id: 57,
  },
];

/** The same binary CID with the raw codec (0x55) instead of dag-cbor. */
function rawCid(cidBytes: Uint8Array): Uint8Array {
  const out = cidBytes.slice();
  out[1] = 0x55;
  return out;
}

function makeCidFor(bytes: Uint8Array): Uint8Array {
  // A real envelope shares the CID layout; only the digest differs.
  const sample = makeCommit();
  const out = sample.cid.bytes.slice();
  out.set(new Uint8Array(sha256(bytes)), 4);
  return out;
}

const sha256 = (bytes: Uint8Array) =>
  createHash("sha256").update(bytes).digest();

async function assertHealthy(before: unknown): Promise<void> {
  expect(await snapshot(running.backend, LEDGERS)).toEqual(before);
  // The same socket and another client still work, and the subscriber got nothing.
  expect(await socket.request({ t: "ping", id: 900 })).toEqual([
    { t: "pong", id: 900 },
  ]);
  expect(await bystander.request({ t: "ping", id: 901 })).toEqual([
    { t: "pong", id: 901 },
  ]);
  const pulled = await post(running.url, {
    t: "pull",
    id: 902,
    ledger: "l",
    have: [tip()],
  });
  expect(pulled.messages).toEqual([
    { t: "heads", id: 902, ledger: "l", heads: [tip()] },
  ]);
}

describe("bad input over a WebSocket", () => {
  for (const c of cases)
    it(`answers ${c.name} with ${c.reason}`, async () => {
      const before = await snapshot(running.backend, LEDGERS);
      socket.sendRaw(c.body());
      const reply = await socket.next();
      expect(reply).toMatchObject({ t: "error", reason: c.reason });
      expect("id" in reply ? reply.id : undefined).toBe(c.id);
      await assertHealthy(before);
    });

  it("answers a text frame with bad-frame and keeps the connection", async () => {
    const before = await snapshot(running.backend, LEDGERS);
    socket.sendRaw("hello?");
    expect(await socket.next()).toMatchObject({
      t: "error",
      reason: "bad-frame",
    });
    await assertHealthy(before);
  });
});

describe("bad input over HTTP", () => {
  for (const c of cases)
    it(`answers ${c.name} with ${c.reason} (${HTTP_STATUS[c.reason]})`, async () => {
      const before = await snapshot(running.backend, LEDGERS);
      const reply = await post(running.url, c.body());
      expect(reply.status).toBe(HTTP_STATUS[c.reason]);
      expect(reply.messages).toHaveLength(1);
      expect(reply.messages[0]).toMatchObject({ t: "error", reason: c.reason });
      const [m] = reply.messages;
      expect(m && "id" in m ? m.id : undefined).toBe(c.id);
      await assertHealthy(before);
    });

  it("refuses a body of another content type", async () => {
    const before = await snapshot(running.backend, LEDGERS);
    const ping: ClientMessage = { t: "ping", id: 1 };
    const reply = await post(running.url, ping, {
      contentType: "application/json",
    });
    expect(reply.status).toBe(400);
    expect(reply.messages[0]).toMatchObject({ reason: "bad-frame" });
    await assertHealthy(before);
  });

  it("refuses a huge body without reading it all", async () => {
    const before = await snapshot(running.backend, LEDGERS);
    const reply = await post(running.url, new Uint8Array(20 * MAX_MESSAGE));
    expect(reply.status).toBe(413);
    expect(reply.messages[0]).toMatchObject({ reason: "too-large" });
    await assertHealthy(before);
  });

  it("stops reading a huge body sent without a length", async () => {
    const before = await snapshot(running.backend, LEDGERS);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Endless: the server must answer without waiting for the end.
        sent += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024));
      },
    });
    const response = await fetch(running.url, {
      method: "POST",
      headers: { "content-type": "application/vnd.kiln+cbor" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    await response.arrayBuffer();
    expect(sent).toBeLessThan(100 * MAX_MESSAGE);
    await assertHealthy(before);
  });

  it("answers other methods with 405", async () => {
    const response = await fetch(running.url, { method: "DELETE" });
    expect(response.status).toBe(405);
  });
});

describe("oversized WebSocket frames", () => {
  it("refuses a frame above maxMessage and keeps the connection", async () => {
    const before = await snapshot(running.backend, LEDGERS);
    socket.sendRaw(new Uint8Array(2 * MAX_MESSAGE));
    expect(await socket.next()).toMatchObject({
      t: "error",
      reason: "too-large",
    });
    await assertHealthy(before);
  });

  it("drops a connection that sends a frame beyond the transport limit", async () => {
    const rude = await TestSocket.hello(running.wsUrl);
    rude.sendRaw(new Uint8Array(5 * MAX_MESSAGE));
    expect((await rude.closed).code).toBe(1009);
    await assertHealthy(await snapshot(running.backend, LEDGERS));
  });
});
