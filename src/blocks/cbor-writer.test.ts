import { describe, expect, it } from "vitest";
import * as dagCbor from "@ipld/dag-cbor";
import { cidFor } from "./cid.js";
import { compareCids, encodeEnvelope, envelopeAad } from "./envelope.js";
import { nodeCrypto } from "./node-crypto.js";
import { createRandom, testSeed } from "../util/random.js";
import { utf8 } from "../util/bytes.js";

const same = (a: Uint8Array, b: Uint8Array) =>
  Buffer.from(a).equals(Buffer.from(b));

describe("hot-path encoders write exactly dag-cbor", () => {
  it("envelopes (with and without writer and signature) and associated data", () => {
    const seed = testSeed(process.env.KILN_SEED);
    console.log(`cbor-writer seed ${seed}`);
    const rnd = createRandom(seed);
    for (let round = 0; round < 200; round++) {
      const parents = Array.from({ length: rnd.int(4) }, (_, i) =>
        cidFor(nodeCrypto, utf8(`p${round}.${i}`)),
      ).sort(compareCids);
      const w = rnd.next() < 0.5 ? nodeCrypto.randomBytes(32) : undefined;
      const s = w && rnd.next() < 0.5 ? nodeCrypto.randomBytes(64) : undefined;
      const extra = { ...(w ? { w } : {}), ...(s ? { s } : {}) };
      const iv = nodeCrypto.randomBytes(12);
      const data = nodeCrypto.randomBytes(
        rnd.int(rnd.next() < 0.1 ? 70_000 : 300),
      );
      expect(
        same(
          encodeEnvelope({ v: 2, parents, iv, data, ...extra }),
          dagCbor.encode({ v: 2, parents, iv, data, ...extra }),
        ),
      ).toBe(true);
      expect(
        same(
          envelopeAad(parents, w),
          dagCbor.encode({ v: 2, parents, ...(w ? { w } : {}) }),
        ),
      ).toBe(true);
    }
  });
});

describe("cidString", () => {
  it("matches CID.toString for many CIDs", async () => {
    const { cidString } = await import("./cid.js");
    for (let i = 0; i < 500; i++) {
      const cid = cidFor(nodeCrypto, utf8(`x${i}`));
      expect(cidString(cid)).toBe(cid.toString());
    }
  });
});

describe("encodeDocValue", () => {
  it("writes exactly what dag-cbor writes for random JSON docs", async () => {
    const { encodeDocValue } = await import("./cbor-writer.js");
    const seed = testSeed(process.env.KILN_SEED);
    console.log(`doc encoder seed ${seed}`);
    const rnd = createRandom(seed);
    const keys = [
      "a",
      "b",
      "aa",
      "é",
      "ab",
      "Z",
      "日本",
      "😀",
      "long-key-name",
      "_x",
      "10",
      "9",
    ];
    const numbers = [
      0,
      1,
      -1,
      23,
      24,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 53 - 1,
      -(2 ** 53) + 1,
      -24,
      -25,
      -256,
      -257,
      0.5,
      -1.5,
      1e300,
      5e-324,
      3.14159,
    ];
    const value = (depth: number): unknown => {
      const r = rnd.next();
      if (depth > 3 || r < 0.3)
        return rnd.pick<unknown>([
          null,
          true,
          false,
          rnd.pick(numbers),
          rnd.pick(keys).repeat(1 + rnd.int(40)),
          new Uint8Array(rnd.int(70)),
        ]);
      if (r < 0.55)
        return Array.from({ length: rnd.int(5) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = rnd.int(7); i > 0; i--)
        o[rnd.pick(keys) + (rnd.next() < 0.3 ? rnd.pick(keys) : "")] = value(
          depth + 1,
        );
      return o;
    };
    for (let i = 0; i < 2000; i++) {
      const v = value(0);
      expect(
        same(encodeDocValue(v), dagCbor.encode(v)),
        JSON.stringify(v, (_k, x: unknown) =>
          x instanceof Uint8Array ? `bytes${x.length}` : x,
        ),
      ).toBe(true);
    }
  });
});
