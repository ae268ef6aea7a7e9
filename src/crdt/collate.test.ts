// Property tests for index-key collation and its order-preserving encoding. The seed is
// printed; reproduce a failure with KILN_SEED=<seed>.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { testSeed } from "../util/random.js";
import { CorruptError, InvalidArgumentError } from "../util/errors.js";
import type { IndexKey } from "./collate.js";
import {
  compareKeys,
  decodeKey,
  encodeKey,
  isIndexKey,
  keyPrefixRange,
} from "./collate.js";

const seed = testSeed(process.env.KILN_SEED);
console.log(`collate seed ${seed} (reproduce with KILN_SEED=${seed})`);
const params = { seed, numRuns: 300 };

// Units around every boundary of the string encoding and of UTF-16 vs code point order.
const trickyChars = [
  "\u0000",
  "\u0001",
  "\u0002",
  "a",
  "b",
  "\u00e9",
  "\ud7ff",
  "\ue000",
  "\ue00d",
  "\ue00e",
  "\ue10f",
  "\uf000",
  "\uffff",
  "\u{10000}",
  "\u{1f600}",
  "\u{10ffff}",
];

const trickyString = fc.oneof(
  fc.constantFrom("", ...trickyChars),
  fc
    .array(fc.constantFrom(...trickyChars), { maxLength: 5 })
    .map((cs) => cs.join("")),
  fc.string({ unit: "binary", maxLength: 6 }),
);

const trickyNumber = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    0.5,
    -0.5,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
    2.2250738585072014e-308,
    1e308,
    -1e308,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
  ),
  fc.integer({ min: -3, max: 3 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const leaf: fc.Arbitrary<IndexKey> = fc.oneof(
  fc.constantFrom(null, false, true),
  trickyNumber,
  trickyString,
);

const { key: anyKey } = fc.letrec<{ key: IndexKey }>((tie) => ({
  key: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("key"), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.constantFrom("a", "b", "1", "__proto__"), trickyString),
      tie("key"),
      { maxKeys: 3 },
    ),
  ),
}));

/** The key as decodeKey returns it: -0 becomes 0, every object has Object.prototype. */
function normalize(k: IndexKey): IndexKey {
  if (typeof k === "number") return k === 0 ? 0 : k;
  if (k === null || typeof k !== "object") return k;
  if (Array.isArray(k)) return k.map(normalize);
  const o: { [k: string]: IndexKey } = {};
  for (const [name, v] of Object.entries(k)) {
    Object.defineProperty(o, name, {
      value: normalize(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return o;
}

function stringOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Reference code point comparison, independent of compareKeys. */
function codePointOrder(a: string, b: string): number {
  const xs = Array.from(a, (c) => c.codePointAt(0)!);
  const ys = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    if (xs[i] !== ys[i]) return xs[i]! < ys[i]! ? -1 : 1;
  }
  return Math.sign(xs.length - ys.length);
}

describe("encodeKey", () => {
  it("orders encodings as compareKeys orders keys", () => {
    fc.assert(
      fc.property(fc.array(anyKey, { minLength: 2, maxLength: 10 }), (keys) => {
        const encoded = keys.map(encodeKey);
        for (let i = 0; i < keys.length; i++) {
          for (let j = 0; j < keys.length; j++) {
            const c = Math.sign(compareKeys(keys[i]!, keys[j]!));
            expect(stringOrder(encoded[i]!, encoded[j]!)).toBe(c);
            expect(Math.sign(compareKeys(keys[j]!, keys[i]!))).toBe(-c || 0);
          }
        }
      }),
      params,
    );
  });

  it("orders strings by code point, not UTF-16 unit", () => {
    fc.assert(
      fc.property(trickyString, trickyString, (a, b) => {
        const c = codePointOrder(a, b);
        expect(Math.sign(compareKeys(a, b))).toBe(c);
        expect(stringOrder(encodeKey(a), encodeKey(b))).toBe(c);
      }),
      params,
    );
    // UTF-16 puts the surrogate pair first; code points put U+FFFF first
    expect("\u{10000}" < "\uffff").toBe(true);
    expect(compareKeys("\uffff", "\u{10000}")).toBeLessThan(0);
    expect(encodeKey("\uffff") < encodeKey("\u{10000}")).toBe(true);
    expect(encodeKey("\ue000") < encodeKey("\u{1f600}")).toBe(true);
    expect(encodeKey("\ud7ff") < encodeKey("\ue000")).toBe(true);
    expect(encodeKey(["\uffff", 1]) < encodeKey(["\u{10000}", 0])).toBe(true);
  });

  it("orders numbers by value, -0 equal to 0", () => {
    fc.assert(
      fc.property(trickyNumber, trickyNumber, (a, b) => {
        const c = a < b ? -1 : a > b ? 1 : 0;
        expect(Math.sign(compareKeys(a, b))).toBe(c);
        expect(stringOrder(encodeKey(a), encodeKey(b))).toBe(c);
      }),
      params,
    );
    expect(encodeKey(-0)).toBe(encodeKey(0));
    expect(compareKeys(-0, 0)).toBe(0);
  });

  it("produces well-formed strings, safe to store as UTF-8", () => {
    fc.assert(
      fc.property(anyKey, (k) => {
        const s = encodeKey(k);
        expect(s.isWellFormed()).toBe(true);
        expect(new TextDecoder().decode(new TextEncoder().encode(s))).toBe(s);
      }),
      params,
    );
  });

  it("rejects values that are not keys", () => {
    for (const bad of [
      NaN,
      Infinity,
      -Infinity,
      "\ud800",
      "a\udc00b",
      ["\ud83d"],
    ]) {
      expect(() => encodeKey(bad as IndexKey)).toThrow(InvalidArgumentError);
    }
    expect(() => encodeKey({ "\udfff": 1 })).toThrow(InvalidArgumentError);
    expect(() => encodeKey(undefined as unknown as IndexKey)).toThrow(
      InvalidArgumentError,
    );
  });
});

describe("decodeKey", () => {
  it("round-trips every key, keeping object member order", () => {
    fc.assert(
      fc.property(anyKey, (k) => {
        const s = encodeKey(k);
        const back = decodeKey(s);
        expect(back).toEqual(normalize(k));
        expect(JSON.stringify(back)).toBe(JSON.stringify(k));
        expect(isIndexKey(back)).toBe(true);
        expect(encodeKey(back)).toBe(s);
      }),
      params,
    );
  });

  it("keeps a __proto__ member a member", () => {
    const k = JSON.parse('{"__proto__": [1], "x": null}') as IndexKey;
    const back = decodeKey(encodeKey(k)) as Record<string, IndexKey>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(["__proto__", "x"]);
    expect(back["__proto__"]).toEqual([1]);
  });

  it("rejects strings encodeKey cannot have produced", () => {
    const negativeZero = "\u0004" + "7fffffffffffffff";
    const infinity = "\u0004" + "fff0000000000000";
    const cases = [
      "",
      "\u0000",
      "\u0008",
      "\u0001\u0001",
      "\u0004123",
      "\u0004" + "8000000000000000".toUpperCase() + "x",
      "\u0004ABCDEF0123456789",
      negativeZero,
      infinity,
      "\u0005abc",
      "\u0005\u0001\u0003\u0000",
      "\u0005\ud800\u0000",
      "\u0005\ue00d\u1000\u0000",
      "\u0005\ue110\u1000\u0000",
      "\u0005\ue00e\u0fff\u0000",
      "\u0006\u0001",
      "\u0007\u0001\u0001\u0000",
      // duplicate member names
      "\u0007\u0005a\u0000\u0001\u0005a\u0000\u0001\u0000",
      // "b" before "1": no JavaScript object has that order
      "\u0007\u0005b\u0000\u0001\u00051\u0000\u0001\u0000",
    ];
    for (const s of cases)
      expect(() => decodeKey(s), JSON.stringify(s)).toThrow(CorruptError);
  });
});

describe("compareKeys", () => {
  it("follows CouchDB's collation example, with code point strings", () => {
    // https://docs.couchdb.org/en/stable/ddocs/views/collation.html, except that ICU
    // puts "a" before "A" and code points put every capital first
    const sorted: IndexKey[] = [
      null,
      false,
      true,
      -1e308,
      -1,
      -Number.MIN_VALUE,
      0,
      Number.MIN_VALUE,
      1,
      2,
      3.5,
      4,
      1e308,
      "",
      "A",
      "B",
      "a",
      "aa",
      "b",
      "ba",
      "bb",
      "\uffff",
      "\u{10000}",
      [],
      [null],
      [false],
      [1],
      ["a"],
      ["b"],
      ["b", "c"],
      ["b", "c", "a"],
      ["b", "d"],
      ["b", "d", "e"],
      [[]],
      [{}],
      {},
      { a: 1 },
      { a: 2 },
      { b: 1 },
      { b: 2 },
      { b: 2, a: 1 },
      { b: 2, c: 2 },
    ];
    fc.assert(
      fc.property(
        fc.shuffledSubarray(sorted, { minLength: sorted.length }),
        (keys) => {
          expect([...keys].sort(compareKeys)).toEqual(sorted);
          expect(keys.map(encodeKey).sort()).toEqual(sorted.map(encodeKey));
        },
      ),
      { ...params, numRuns: 20 },
    );
  });

  it("compares objects member by member in their key order", () => {
    expect(compareKeys({ a: 1, b: 2 }, { b: 2, a: 1 })).toBeLessThan(0);
    expect(compareKeys({ b: 1 }, { b: 1, a: 0 })).toBeLessThan(0);
    // integer-like names come first in every JavaScript object
    expect(compareKeys({ b: 1, 1: 1 }, { 1: 1, b: 1 })).toBe(0);
  });
});

describe("isIndexKey", () => {
  it("accepts every generated key", () => {
    fc.assert(
      fc.property(anyKey, (k) => {
        expect(isIndexKey(k)).toBe(true);
      }),
      params,
    );
  });

  it("rejects what a map function must not emit", () => {
    const cyclic: unknown[] = [1];
    cyclic.push(cyclic);
    const shared = [1];
    expect(isIndexKey([shared, shared])).toBe(true);
    expect(isIndexKey(Object.create(null))).toBe(true);
    const notKeys: unknown[] = [
      undefined,
      NaN,
      Infinity,
      -Infinity,
      1n,
      Symbol("s"),
      () => 1,
      new Uint8Array(2),
      new Date(0),
      new Map(),
      new (class Point {
        x = 1;
      })(),
      [1, undefined],
      // a hole
      [1, , 2],
      { a: undefined },
      { a: [NaN] },
      "\ud800",
      { "\udc00": 1 },
      cyclic,
    ];
    for (const [i, bad] of notKeys.entries()) {
      expect(isIndexKey(bad), `not-key case ${i}`).toBe(false);
    }
  });
});

describe("keyPrefixRange", () => {
  const inRange = (r: { gte: string; lte: string }, k: IndexKey) => {
    const s = encodeKey(k);
    return r.gte <= s && s <= r.lte;
  };

  it("holds exactly the array keys starting with the prefix", () => {
    fc.assert(
      fc.property(
        fc.array(anyKey, { maxLength: 3 }),
        fc.array(anyKey, { maxLength: 6 }),
        fc.array(fc.array(anyKey, { maxLength: 2 }), { maxLength: 6 }),
        (prefix, others, rests) => {
          const r = keyPrefixRange(prefix);
          const candidates: IndexKey[] = [
            ...others,
            prefix,
            prefix.slice(0, -1),
            ...rests.map((rest) => [...prefix, ...rest]),
            ...rests.map((rest) => [...prefix.slice(0, -1), ...rest]),
            ...rests.map((rest) => [...rest, ...prefix]),
          ];
          for (const k of candidates) {
            const has =
              Array.isArray(k) &&
              k.length >= prefix.length &&
              prefix.every((p, i) => compareKeys(p, k[i]!) === 0);
            expect(inRange(r, k), JSON.stringify(k)).toBe(has);
          }
        },
      ),
      params,
    );
    expect(inRange(keyPrefixRange([]), [])).toBe(true);
    expect(inRange(keyPrefixRange([]), {})).toBe(false);
    expect(inRange(keyPrefixRange([0]), [-0, "x"])).toBe(true);
  });

  it("holds exactly the string keys starting with the prefix", () => {
    fc.assert(
      fc.property(
        trickyString,
        fc.array(anyKey, { maxLength: 6 }),
        fc.array(trickyString, { maxLength: 6 }),
        (prefix, others, rests) => {
          const r = keyPrefixRange(prefix);
          const candidates: IndexKey[] = [
            ...others,
            prefix,
            [prefix],
            ...rests.map((rest) => prefix + rest),
            ...rests.map(
              (rest) => Array.from(prefix).slice(0, -1).join("") + rest,
            ),
          ];
          for (const k of candidates) {
            const has = typeof k === "string" && k.startsWith(prefix);
            expect(inRange(r, k), JSON.stringify(k)).toBe(has);
          }
        },
      ),
      params,
    );
    expect(inRange(keyPrefixRange("\uffff"), "\uffff\u{10000}")).toBe(true);
    expect(inRange(keyPrefixRange("\uffff"), "\u{10000}")).toBe(false);
  });
});
