// The protocol codec: every message type survives a round trip, every way a message can be
// malformed gives a ProtocolError with the wire reason docs/protocol.md names for it, and
// HTTP response frames split correctly however the bytes arrive. The FrameReader property
// tests print their seed; reproduce a failure with KILN_SEED=<seed>.
import * as dagCbor from "@ipld/dag-cbor";
import fc from "fast-check";
import { CID } from "multiformats/cid";
import { identity } from "multiformats/hashes/identity";
import { describe, expect, it } from "vitest";
import { cidFor } from "../../blocks/cid.js";
import { encodeEnvelope } from "../../blocks/envelope.js";
import { nodeCrypto } from "../../blocks/node-crypto.js";
import { utf8 } from "../../util/bytes.js";
import { testSeed } from "../../util/random.js";
import type { ClientMessage, ServerMessage } from "./codec.js";
import {
  CLIENT_MESSAGES,
  FrameReader,
  PROTOCOL_VERSIONS,
  SERVER_MESSAGES,
  chooseVersion,
  decodeClientMessage,
  decodeServerMessage,
  encodeMessage,
  frameMessage,
  requestIdOf,
} from "./codec.js";
import type { ErrorReason } from "./error.js";
import { ProtocolError } from "./error.js";
import { MAX_CID_LIST } from "./fields.js";

const MAX = 1 << 20;

const envelope = encodeEnvelope({
  v: 2,
  parents: [],
  iv: new Uint8Array(12),
  data: utf8("ciphertext and tag"),
  // Signed in form only: a blind store checks a commit names its writer and signature.
  w: new Uint8Array(32),
  s: new Uint8Array(64),
});
const a = cidFor(nodeCrypto, envelope);
const b = cidFor(nodeCrypto, utf8("b"));

/** Each message type with every field set, and with only the required ones. */
const CLIENT_SAMPLES: ClientMessage[] = [
  { t: "hello", id: 0, v: [1] },
  {
    t: "hello",
    id: 1,
    v: [3, 1, 2],
    tokens: ["kiln1.x.y", "kiln1.a.b"],
    client: "kiln/0.1",
  },
  { t: "pull", id: 2, ledger: "orders", have: [] },
  {
    t: "pull",
    id: Number.MAX_SAFE_INTEGER,
    ledger: "日本 😀",
    have: [a, b],
    live: true,
    wait: 120_000,
  },
  { t: "push", id: 3, ledger: "o", commits: [] },
  { t: "push", id: 4, ledger: "o", commits: [[a, envelope]], heads: [a] },
  { t: "ping", id: 5 },
  {
    t: "push",
    id: 6,
    ledger: "o",
    commits: [],
    heads: [a],
    uploaded: [a],
  },
  { t: "upload", id: 8, ledger: "o", cids: [a, b], sizes: [51, 70_000] },
  { t: "publish", id: 9, ledger: "o", snapshot: [a, envelope] },
  { t: "delete", id: 11, ledger: "o" },
  { t: "pull", id: 10, ledger: "o", have: [], snapshot: true },
];
const SERVER_SAMPLES: ServerMessage[] = [
  {
    t: "welcome",
    id: 1,
    v: 1,
    transports: ["ws", "http"],
    maxMessage: MAX,
    maxCommits: 1000,
    server: "kiln/0.1",
  },
  { t: "commits", ledger: "o", commits: [] },
  { t: "commits", id: 2, ledger: "o", commits: [[a, envelope]], heads: [a] },
  { t: "heads", id: 2, ledger: "o", heads: [] },
  { t: "heads", id: 2, ledger: "o", heads: [a, b] },
  { t: "ack", id: 4, ledger: "o", heads: [a], stored: 1 },
  { t: "pong", id: 5 },
  {
    t: "welcome",
    id: 1,
    v: 1,
    transports: ["http"],
    maxMessage: MAX,
    maxCommits: 1,
    server: "kiln",
    uploadMin: 65_536,
  },
  { t: "uploads", id: 8, ledger: "o", urls: ["https://s3.example/k?X", ""] },
  { t: "snapshot", id: 10, ledger: "o", snapshot: [a, envelope] },
  { t: "deleted", id: 11, ledger: "o" },
  { t: "error", reason: "bad-frame", message: "message is not a cbor map" },
  { t: "error", id: 7, reason: "forbidden", message: "no write right" },
];

/** CIDs as strings and bytes as hex, so decoded values compare with toEqual. */
function plain(value: unknown): unknown {
  const cid = CID.asCID(value);
  if (cid) return `cid:${cid.toString()}`;
  if (value instanceof Uint8Array)
    return `bytes:${Buffer.from(value).toString("hex")}`;
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, plain(v)]),
    );
  return value;
}

/** The reason of the ProtocolError `f` throws (fails if it throws anything else). */
function reasonOf(f: () => unknown): ErrorReason {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe("protocol");
    return (error as ProtocolError).reason;
  }
  throw new Error("expected a ProtocolError, nothing was thrown");
}

const client = (value: unknown) => () =>
  decodeClientMessage(dagCbor.encode(value), MAX);
const server = (value: unknown) => () =>
  decodeServerMessage(dagCbor.encode(value), MAX);

describe("round trips", () => {
  it("cover every message type", () => {
    expect(new Set(CLIENT_SAMPLES.map((m) => m.t))).toEqual(
      new Set(Object.keys(CLIENT_MESSAGES)),
    );
    expect(new Set(SERVER_SAMPLES.map((m) => m.t))).toEqual(
      new Set(Object.keys(SERVER_MESSAGES)),
    );
  });

  it.each(CLIENT_SAMPLES.map((m) => [m.t, m] as const))(
    "client message %s",
    (_, message) => {
      const bytes = encodeMessage(message);
      const back = decodeClientMessage(bytes, MAX);
      expect(plain(back)).toEqual(plain(message));
      expect(encodeMessage(back)).toEqual(bytes);
      expect(reasonOf(() => decodeServerMessage(bytes, MAX))).toBe(
        "unknown-type",
      );
    },
  );

  it.each(SERVER_SAMPLES.map((m) => [m.t, m] as const))(
    "server message %s",
    (_, message) => {
      const bytes = encodeMessage(message);
      const back = decodeServerMessage(bytes, MAX);
      expect(plain(back)).toEqual(plain(message));
      expect(encodeMessage(back)).toEqual(bytes);
      expect(reasonOf(() => decodeClientMessage(bytes, MAX))).toBe(
        "unknown-type",
      );
    },
  );

  it("encode deterministically: keys length-first, CIDs as plain byte strings", () => {
    const bytes = encodeMessage({
      t: "pull",
      id: 1,
      ledger: "o",
      have: [a],
      live: undefined as unknown as boolean,
    });
    // The same value written by hand in dag-cbor order, with the CID's binary bytes.
    expect(bytes).toEqual(
      dagCbor.encode({ t: "pull", id: 1, have: [a.bytes], ledger: "o" }),
    );
    expect(Object.keys(dagCbor.decode<object>(bytes))).toEqual([
      "t",
      "id",
      "have",
      "ledger",
    ]);
  });

  it("ignore unknown fields", () => {
    const back = decodeClientMessage(
      dagCbor.encode({ t: "ping", id: 9, later: [1, 2], x: "y" }),
      MAX,
    );
    expect(back).toEqual({ t: "ping", id: 9 });
  });

  it("accept a message of exactly the size limit", () => {
    const bytes = encodeMessage({ t: "ping", id: 1 });
    expect(decodeClientMessage(bytes, bytes.length)).toEqual({
      t: "ping",
      id: 1,
    });
  });
});

describe("decode refuses", () => {
  it("bytes that are not dag-cbor: bad-frame", () => {
    for (const hex of [
      "", // nothing
      "ff", // a break outside an indefinite item
      "a2617401", // a map cut short
      "a1617464706f6e6700", // trailing bytes after the message
      "bf61746470696e67ff", // an indefinite-length map
      "a2617464706f6e676269641801", // an integer in a longer form than needed
      "a361746470696e6762696401626964 02".replace(" ", ""), // a repeated key
    ])
      expect(
        reasonOf(() => decodeClientMessage(Buffer.from(hex, "hex"), MAX)),
        hex,
      ).toBe("bad-frame");
  });

  it("a value that is not a map: bad-frame", () => {
    for (const value of [[{ t: "ping", id: 1 }], 1, -1, "ping", null, true])
      expect(reasonOf(client(value))).toBe("bad-frame");
  });

  it("a map without a text t: bad-message", () => {
    expect(reasonOf(client({ id: 1 }))).toBe("bad-message");
    expect(reasonOf(client({ t: 1, id: 1 }))).toBe("bad-message");
    expect(reasonOf(client({ t: utf8("ping"), id: 1 }))).toBe("bad-message");
    expect(reasonOf(client({ t: null, id: 1 }))).toBe("bad-message");
  });

  it("an unknown type: unknown-type", () => {
    for (const t of ["nope", "", "toString", "__proto__", "hasOwnProperty"])
      expect(reasonOf(client({ t, id: 1 })), t).toBe("unknown-type");
    expect(reasonOf(server({ t: "hello", id: 1, v: [1] }))).toBe(
      "unknown-type",
    );
  });

  it("a field of the wrong type or out of range: bad-message", () => {
    const pull = { t: "pull", id: 1, ledger: "o", have: [] };
    for (const [what, bad] of [
      ["id missing", { t: "ping" }],
      ["id text", { t: "ping", id: "1" }],
      ["id negative", { t: "ping", id: -1 }],
      ["id fraction", { t: "ping", id: 1.5 }],
      ["id over 2^53", { t: "ping", id: 2n ** 53n }],
      ["ledger empty", { ...pull, ledger: "" }],
      ["ledger too long", { ...pull, ledger: "x".repeat(513) }],
      ["ledger bytes", { ...pull, ledger: utf8("o") }],
      ["have missing", { t: "pull", id: 1, ledger: "o" }],
      [
        "have too long",
        { ...pull, have: Array(MAX_CID_LIST + 1).fill(a.bytes) },
      ],
      ["live not bool", { ...pull, live: 1 }],
      ["wait too long", { ...pull, wait: 120_001 }],
      ["live null", { ...pull, live: null }],
      ["hello without versions", { t: "hello", id: 1, v: [] }],
      ["hello version 0", { t: "hello", id: 1, v: [0] }],
      ["hello too many versions", { t: "hello", id: 1, v: Array(17).fill(1) }],
      [
        "token too long",
        { t: "hello", id: 1, v: [2], tokens: ["x".repeat(8193)] },
      ],
      ["token empty", { t: "hello", id: 1, v: [2], tokens: [""] }],
      ["tokens not a list", { t: "hello", id: 1, v: [2], tokens: "kiln1.a.b" }],
      [
        "too many tokens",
        { t: "hello", id: 1, v: [2], tokens: Array(65).fill("kiln1.a.b") },
      ],
      ["ledger named *", { ...pull, ledger: "*" }],
      ["ledger with U+FFFD", { ...pull, ledger: "a\uFFFDb" }],
      [
        "commit not a pair",
        { t: "push", id: 1, ledger: "o", commits: [[a.bytes]] },
      ],
      [
        "commit bytes as text",
        { t: "push", id: 1, ledger: "o", commits: [[a.bytes, "x"]] },
      ],
      [
        "uploaded not CIDs",
        { t: "push", id: 1, ledger: "o", commits: [], uploaded: ["x"] },
      ],
      [
        "upload without CIDs",
        { t: "upload", id: 1, ledger: "o", cids: [], sizes: [] },
      ],
      [
        "upload with a size per CID missing",
        { t: "upload", id: 1, ledger: "o", cids: [a.bytes], sizes: [] },
      ],
      [
        "upload of an empty commit",
        { t: "upload", id: 1, ledger: "o", cids: [a.bytes], sizes: [0] },
      ],
    ] as const)
      expect(reasonOf(client(bad)), what).toBe("bad-message");

    const heads = { t: "heads", id: 1, ledger: "o", heads: [] };
    for (const [what, bad] of [
      ["heads missing", { t: "heads", id: 1, ledger: "o" }],
      ["heads id missing", { t: "heads", ledger: "o", heads: [] }],
      ["heads id text", { ...heads, id: "1" }],
      ["reason unknown", { t: "error", reason: "oops", message: "" }],
      [
        "message too long",
        { t: "error", reason: "internal", message: "x".repeat(4097) },
      ],
      [
        "transport unknown",
        {
          t: "welcome",
          id: 1,
          v: 1,
          transports: ["carrier-pigeon"],
          maxMessage: MAX,
          maxCommits: 1,
          server: "",
        },
      ],
      [
        "maxMessage too small",
        {
          t: "welcome",
          id: 1,
          v: 1,
          transports: ["http"],
          maxMessage: 1023,
          maxCommits: 1,
          server: "",
        },
      ],
      [
        "uploadMin negative",
        {
          t: "welcome",
          id: 1,
          v: 1,
          transports: ["http"],
          maxMessage: MAX,
          maxCommits: 1,
          server: "",
          uploadMin: -1,
        },
      ],
      [
        "uploads URLs not text",
        { t: "uploads", id: 1, ledger: "o", urls: [utf8("https://x")] },
      ],
      [
        "stored negative",
        { t: "ack", id: 1, ledger: "o", heads: [], stored: -1 },
      ],
    ] as const)
      expect(reasonOf(server(bad)), what).toBe("bad-message");
  });

  it("a ledger name sent as malformed UTF-8 (a lone surrogate): bad-message", () => {
    // The decoder reads malformed UTF-8 as U+FFFD, which no ledger name may hold: two
    // names that differ only in lone surrogates cannot collide on one ledger.
    const pull = dagCbor.encode({ t: "pull", id: 1, have: [], ledger: "XXXX" });
    const bytes = Uint8Array.of(
      ...pull.subarray(0, -5),
      ...[0x64, 0xed, 0xa0, 0x80, 0x78], // text(4): ED A0 80 = U+D800 as CESU-8, then "x"
    );
    expect(reasonOf(() => decodeClientMessage(bytes, MAX))).toBe("bad-message");
  });

  it("CID fields that do not hold a binary CIDv1: bad-message", () => {
    for (const [what, cid] of [
      ["random bytes", utf8("not a cid")],
      ["empty bytes", new Uint8Array()],
      ["a CIDv1 cut short", a.bytes.subarray(0, 20)],
      ["a CIDv1 with trailing bytes", Uint8Array.of(...a.bytes, 0)],
      ["a CIDv0 (a bare multihash)", a.multihash.bytes],
      ["a tag-42 link instead of bytes", a],
      ["a CID string", a.toString()],
    ] as const) {
      const pull = { t: "pull", id: 1, ledger: "o", have: [cid] };
      expect(reasonOf(client(pull)), what).toBe("bad-message");
      const push = {
        t: "push",
        id: 1,
        ledger: "o",
        commits: [[cid, envelope]],
      };
      expect(reasonOf(client(push)), what).toBe("bad-message");
    }
    // Any CIDv1 is well-formed on the wire; whether it names a commit is checkCommit's job.
    const raw = CID.createV1(0x55, identity.digest(utf8("x")));
    const back = decodeClientMessage(
      dagCbor.encode({ t: "pull", id: 1, ledger: "o", have: [raw.bytes] }),
      MAX,
    );
    expect(plain(back)).toMatchObject({ have: [plain(raw)] });
  });

  it("a message over the size limit: too-large, before decoding it", () => {
    const bytes = encodeMessage({ t: "ping", id: 1 });
    expect(reasonOf(() => decodeClientMessage(bytes, bytes.length - 1))).toBe(
      "too-large",
    );
    const garbage = new Uint8Array(100).fill(0xff);
    expect(reasonOf(() => decodeServerMessage(garbage, 99))).toBe("too-large");
  });

  it("and still reads the request id of a message it refused, when there is one", () => {
    expect(requestIdOf(dagCbor.encode({ t: "pull", id: 42 }))).toBe(42);
    expect(requestIdOf(dagCbor.encode({ t: "nope", id: 0 }))).toBe(0);
    expect(requestIdOf(dagCbor.encode({ t: "ping", id: -1 }))).toBeUndefined();
    expect(requestIdOf(dagCbor.encode({ t: "ping", id: "1" }))).toBeUndefined();
    expect(requestIdOf(dagCbor.encode({ t: "ping", id: 1.5 }))).toBeUndefined();
    expect(requestIdOf(dagCbor.encode([1]))).toBeUndefined();
    expect(requestIdOf(dagCbor.encode(7))).toBeUndefined();
    expect(requestIdOf(dagCbor.encode(null))).toBeUndefined();
    expect(requestIdOf(Uint8Array.of(0xff))).toBeUndefined();
  });
});

describe("chooseVersion", () => {
  it("picks the highest version both sides speak", () => {
    expect(PROTOCOL_VERSIONS).toEqual([2]);
    expect(chooseVersion([2])).toBe(2);
    expect(chooseVersion([3, 1, 2])).toBe(2);
    expect(chooseVersion([2, 2])).toBe(2);
  });

  it("gives undefined when there is none", () => {
    expect(chooseVersion([])).toBeUndefined();
    expect(chooseVersion([1])).toBeUndefined();
    expect(chooseVersion([1, 3])).toBeUndefined();
    expect(chooseVersion([0])).toBeUndefined();
  });
});

describe("FrameReader", () => {
  const seed = testSeed(process.env.KILN_SEED);
  console.log(`frame-reader seed ${seed} (reproduce with KILN_SEED=${seed})`);
  const params = { seed, numRuns: 300 };

  /** A body as a frame: its length as a 4-byte big-endian integer, then the body. */
  function frame(body: Uint8Array): Uint8Array {
    const out = new Uint8Array(4 + body.length);
    new DataView(out.buffer).setUint32(0, body.length);
    out.set(body, 4);
    return out;
  }

  function concat(parts: readonly Uint8Array[]): Uint8Array {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Bodies of random bytes mixed with real encoded server messages. */
  const bodies = fc.array(
    fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom(...SERVER_SAMPLES.map((m) => encodeMessage(m))),
    ),
    { maxLength: 12 },
  );
  /** Cut points into a stream of `length` bytes, ascending. */
  const cuts = (length: number) =>
    fc
      .uniqueArray(fc.integer({ min: 0, max: length }), { maxLength: 20 })
      .map((xs) => xs.sort((x, y) => x - y));

  it("yields every frame whole, however the stream is split into chunks", () => {
    fc.assert(
      fc.property(
        bodies.chain((bs) => {
          const stream = concat(bs.map(frame));
          return fc.tuple(
            fc.constant(bs),
            fc.constant(stream),
            cuts(stream.length),
          );
        }),
        ([bs, stream, points]) => {
          const reader = new FrameReader(MAX);
          const got: Uint8Array[] = [];
          let from = 0;
          for (const to of [...points, stream.length]) {
            got.push(...reader.push(stream.subarray(from, to)));
            from = to;
          }
          reader.end();
          expect(got.map((g) => Buffer.from(g).toString("hex"))).toEqual(
            bs.map((b) => Buffer.from(b).toString("hex")),
          );
        },
      ),
      params,
    );
  });

  it("refuses a stream that ends inside a frame: bad-frame", () => {
    fc.assert(
      fc.property(
        bodies
          .filter((bs) => bs.length > 0)
          .chain((bs) => {
            const frames = bs.map(frame);
            const stream = concat(frames);
            const ends = new Set<number>([0]);
            let at = 0;
            for (const f of frames) ends.add((at += f.length));
            return fc.tuple(
              fc.constant(stream),
              fc
                .integer({ min: 1, max: stream.length - 1 })
                .filter((end) => !ends.has(end)),
            );
          }),
        ([stream, end]) => {
          const reader = new FrameReader(MAX);
          reader.push(stream.subarray(0, end));
          expect(reasonOf(() => reader.end())).toBe("bad-frame");
        },
      ),
      params,
    );
  });

  it("reads frames written by frameMessage back to the messages", () => {
    const reader = new FrameReader(MAX);
    const got = reader.push(concat(SERVER_SAMPLES.map((m) => frameMessage(m))));
    reader.end();
    expect(got.map((g) => plain(decodeServerMessage(g, MAX)))).toEqual(
      SERVER_SAMPLES.map(plain),
    );
  });

  it("yields an empty frame, which decode then refuses", () => {
    const reader = new FrameReader(MAX);
    const [empty, ...rest] = reader.push(Uint8Array.of(0, 0, 0, 0));
    expect(rest).toEqual([]);
    expect(empty).toEqual(new Uint8Array());
    expect(reasonOf(() => decodeServerMessage(empty!, MAX))).toBe("bad-frame");
  });

  it("refuses a frame over its limit as soon as the length arrives: too-large", () => {
    const reader = new FrameReader(1024);
    expect(reader.push(frame(new Uint8Array(1024)))).toHaveLength(1);
    expect(reader.push(Uint8Array.of(0, 0))).toEqual([]);
    expect(reasonOf(() => reader.push(Uint8Array.of(4, 1)))).toBe("too-large");
  });
});
