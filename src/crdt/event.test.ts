import { describe, expect, it } from "vitest";
import * as dagCbor from "@ipld/dag-cbor";
import { cidFor } from "../blocks/cid.js";
import { nodeCrypto } from "../blocks/node-crypto.js";
import { createRandom, testSeed } from "../util/random.js";
import { utf8 } from "../util/bytes.js";
import { encodeEvent, fromEventValue } from "./event.js";

describe("events", () => {
  it("encode exactly as dag-cbor and decode back", () => {
    const seed = testSeed(process.env.KILN_SEED);
    console.log(`event seed ${seed}`);
    const rnd = createRandom(seed);
    const ids = ["a", "é", "日本", "😀x", "", "z".repeat(300)];
    for (let round = 0; round < 200; round++) {
      const ops = Array.from(
        { length: rnd.int(30) },
        (_, i) =>
          [
            `${rnd.pick(ids)}${i}`,
            rnd.next() < 0.3 ? null : cidFor(nodeCrypto, utf8(`d${i}`)),
          ] as const,
      );
      const root =
        rnd.next() < 0.2 ? null : cidFor(nodeCrypto, utf8(`r${round}`));
      const h = rnd.int(rnd.next() < 0.1 ? 5_000_000 : 100) + 1;
      const bytes = encodeEvent({ h, ops: [...ops], root });
      expect(
        Buffer.from(bytes).equals(
          Buffer.from(dagCbor.encode({ h, ops, root })),
        ),
      ).toBe(true);
      const back = fromEventValue(dagCbor.decode(bytes), "test");
      expect(back.h).toBe(h);
      expect(back.ops.map(([id, c]) => [id, c?.toString() ?? null])).toEqual(
        ops.map(([id, c]) => [id, c?.toString() ?? null]),
      );
    }
  });

  it("refuses malformed events with a CorruptError", () => {
    for (const bad of [
      null,
      [],
      { h: 0, ops: [], root: null },
      { h: 1, ops: "x", root: null },
      { h: 1, ops: [[1, null]], root: null },
      { h: 1, ops: [["a", "not a cid"]], root: null },
      { h: 1, ops: [], root: "x" },
    ])
      expect(() => fromEventValue(bad, "test")).toThrow(
        expect.objectContaining({ code: "corrupt" }) as unknown,
      );
  });
});
