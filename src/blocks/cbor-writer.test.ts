import { describe, expect, it } from "vitest";
import * as dagCbor from "@ipld/dag-cbor";
import { varint } from "multiformats";
import { encodeCar } from "./car.js";
import { cidFor } from "./cid.js";
import { encodeEnvelope, envelopeAad } from "./envelope.js";
import { nodeCrypto } from "./node-crypto.js";
import { encodeEvent } from "../crdt/event.js";
import { createRandom, testSeed } from "../util/random.js";
import { utf8 } from "../util/bytes.js";

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe("hot-path encoders write exactly dag-cbor", () => {
  it("envelopes, associated data, events and CAR headers", () => {
    const seed = testSeed(process.env.KILN_SEED);
    console.log(`cbor-writer seed ${seed}`);
    const rnd = createRandom(seed);
    const ids = ["a", "é", "日本", "😀x", "", "z".repeat(300)];
    for (let round = 0; round < 200; round++) {
      const parents = Array.from({ length: rnd.int(4) }, (_, i) => cidFor(nodeCrypto, utf8(`p${round}.${i}`)));
      const iv = nodeCrypto.randomBytes(12);
      const data = nodeCrypto.randomBytes(rnd.int(rnd.next() < 0.1 ? 70_000 : 300));
      expect(same(encodeEnvelope({ v: 1, parents, iv, data }), dagCbor.encode({ v: 1, parents, iv, data }))).toBe(true);
      expect(same(envelopeAad(parents), dagCbor.encode({ v: 1, parents }))).toBe(true);
      const ops = Array.from({ length: rnd.int(30) }, (_, i) => [`${rnd.pick(ids)}${i}`, rnd.next() < 0.3 ? null : cidFor(nodeCrypto, utf8(`d${i}`))] as const);
      const root = rnd.next() < 0.2 ? null : cidFor(nodeCrypto, utf8(`r${round}`));
      const h = rnd.int(rnd.next() < 0.1 ? 5_000_000 : 100) + 1;
      expect(same(encodeEvent({ h, ops: [...ops], root }), dagCbor.encode({ h, ops, root }))).toBe(true);
      const car = encodeCar(parents, []);
      const [headerLength, at] = varint.decode(car);
      expect(same(car.subarray(at, at + headerLength), dagCbor.encode({ version: 1, roots: parents }))).toBe(true);
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
