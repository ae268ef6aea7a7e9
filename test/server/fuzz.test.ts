// Random and mutated frames (valid messages with bits flipped, bytes overwritten, cut short,
// spliced together) thrown at both transports. Every frame must get typed errors or valid
// replies — never `internal`, never a dropped connection — and afterwards nothing is stored
// and a good client still works. The seed is printed: KILN_FUZZ_SEED=<seed> reproduces a run.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backend } from "../../src/server/backend.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import type { ServerEvent } from "../../src/server/index.js";
import {
  encodeMessage,
  HTTP_STATUS,
  type ClientMessage,
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

const seed = Number(
  process.env.KILN_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31),
);
console.log(`server fuzz seed: ${seed} (rerun with KILN_FUZZ_SEED=${seed})`);

const RUNS = Number(process.env.KILN_FUZZ_RUNS ?? 60);
const chain = makeChain(4, [], 64);
const tip = chain[3]!.cid;

let running: Running;
let added = 0;
const failures: ServerEvent[] = [];

beforeAll(async () => {
  const memory = createMemoryBackend();
  // Counts every commit a put actually adds: the fuzz must never store anything.
  const backend: Backend = {
    ...memory,
    putCommits: async (ledger, commits, origin) => {
      const result = await memory.putCommits(ledger, commits, origin);
      added += result.added.length;
      return result;
    },
    getCommits: (l, c) => memory.getCommits(l, c),
    getMeta: (l, c) => memory.getMeta(l, c),
    getHeads: (l) => memory.getHeads(l),
    putSnapshot: async (l, s) => {
      await memory.putSnapshot(l, s);
      added += 1;
    },
    getSnapshot: (l) => memory.getSnapshot(l),
    deleteLedger: async (l) => {
      await memory.deleteLedger(l);
      added += 1;
    },
    watch: (l, f) => memory.watch(l, f),
    close: () => memory.close(),
  };
  running = await startServer({
    backend,
    maxMessage: 32 * 1024,
    maxCommits: 8,
    log: (e) => {
      if (e.kind === "failure") failures.push(e);
    },
  });
  await memory.putCommits("l", chain);
});

afterAll(() => running.close());

// Valid messages to mutate. None can store anything even when a mutation keeps it valid: the
// pushed commits are held already, and their parents exist in ledger "l" only.
const valid: ClientMessage[] = [
  { t: "hello", id: 1, v: [2] },
  { t: "hello", id: 2, v: [3, 2], client: "fuzz" },
  { t: "ping", id: 3 },
  { t: "pull", id: 4, ledger: "l", have: [tip] },
  { t: "pull", id: 5, ledger: "l", have: [chain[1]!.cid], live: true },
  { t: "pull", id: 6, ledger: "other", have: [], wait: 0 },
  { t: "push", id: 7, ledger: "l", commits: wire(chain.slice(1)) },
  {
    t: "push",
    id: 8,
    ledger: "l",
    commits: wire(chain.slice(2)),
    heads: [tip],
  },
];
const validFrames = valid.map(encodeMessage);

const anyValid = fc.constantFrom(...validFrames);
const frame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc
    .tuple(anyValid, fc.nat(), fc.integer({ min: 0, max: 7 }))
    .map(([f, at, bit]) => {
      const out = f.slice();
      out[at % out.length]! ^= 1 << bit;
      return out;
    }),
  fc
    .tuple(
      anyValid,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
    )
    .map(([f, edits]) => {
      const out = f.slice();
      for (const [at, value] of edits) out[at % out.length] = value;
      return out;
    }),
  fc.tuple(anyValid, fc.nat()).map(([f, at]) => f.slice(0, at % f.length)),
  fc.tuple(anyValid, anyValid, fc.nat(), fc.nat()).map(([a, b, i, j]) => {
    const out = new Uint8Array((i % a.length) + b.length - (j % b.length));
    out.set(a.subarray(0, i % a.length));
    out.set(b.subarray(j % b.length), i % a.length);
    return out;
  }),
  fc
    .tuple(anyValid, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 }))
    .map(([f, at, insert]) => {
      const cut = at % f.length;
      const out = new Uint8Array(f.length + insert.length);
      out.set(f.subarray(0, cut));
      out.set(insert, cut);
      out.set(f.subarray(cut), cut + insert.length);
      return out;
    }),
);

let barrier = 1_000_000;

describe("fuzzed frames", () => {
  it("over a WebSocket: typed errors or valid replies, connection kept", async () => {
    const before = await snapshot(running.backend, ["l"]);
    const socket = await TestSocket.hello(running.wsUrl);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(frame, { minLength: 1, maxLength: 6 }),
          async (frames) => {
            for (const f of frames) socket.sendRaw(f);
            // Every reply up to the barrier's pong decodes as a server message (next() throws
            // otherwise); none is an internal error.
            const id = barrier++;
            socket.send({ t: "ping", id });
            const replies = await socket.until(
              (m) => m.t === "pong" && m.id === id,
            );
            for (const r of replies)
              expect(r.t === "error" ? r.reason : "ok").not.toBe("internal");
          },
        ),
        { seed, numRuns: RUNS },
      );
    } finally {
      await socket.close();
    }
    expect(await snapshot(running.backend, ["l"])).toEqual(before);
  });

  it("before hello: an error and a close, or a welcome", async () => {
    await fc.assert(
      fc.asyncProperty(frame, async (f) => {
        const socket = await TestSocket.open(running.wsUrl);
        try {
          socket.sendRaw(f);
          const reply = await socket.next();
          if (reply.t === "welcome") return;
          expect(reply.t).toBe("error");
          if (reply.t === "error") expect(reply.reason).not.toBe("internal");
          if (
            reply.t === "error" &&
            reply.reason !== "version" &&
            reply.reason !== "unauthorized"
          )
            expect((await socket.closed).code).toBe(1008);
        } finally {
          await socket.close();
        }
      }),
      { seed, numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it("over HTTP: a typed error with its status, or a valid answer", async () => {
    await fc.assert(
      fc.asyncProperty(frame, async (f) => {
        const reply = await post(running.url, f);
        if (reply.status === 200) {
          expect(reply.messages.length).toBeGreaterThan(0);
          return;
        }
        expect(reply.messages).toHaveLength(1);
        const [m] = reply.messages;
        expect(m?.t).toBe("error");
        if (m?.t === "error") {
          expect(m.reason).not.toBe("internal");
          expect(reply.status).toBe(HTTP_STATUS[m.reason]);
        }
      }),
      { seed, numRuns: RUNS * 3 },
    );
  });

  it("leaves nothing stored and a good client working", async () => {
    expect(added).toBe(0);
    expect(failures).toEqual([]);
    const socket = await TestSocket.hello(running.wsUrl);
    try {
      const next = makeCommit([tip]);
      expect(
        await socket.request({
          t: "push",
          id: 1,
          ledger: "l",
          commits: wire([next]),
        }),
      ).toEqual([
        expect.objectContaining({ t: "ack", stored: 1, heads: [next.cid] }),
      ]);
      const pulled = await post(running.url, {
        t: "pull",
        id: 2,
        ledger: "l",
        have: [tip],
      });
      expect(pulled.messages[0]).toMatchObject({
        t: "commits",
        commits: wire([next]),
      });
    } finally {
      await socket.close();
    }
  });
});
