import { describe, expect, it } from "vitest";
import * as dagCbor from "@ipld/dag-cbor";
import { createRandom, testSeed } from "../util/random.js";
import { utf8 } from "../util/bytes.js";
import { encodeEvent, fromEventValue } from "./event.js";
import type { SealedOp } from "./event.js";

describe("events", () => {
  it("encode exactly as dag-cbor and decode back", () => {
    const seed = testSeed(process.env.KILN_SEED);
    console.log(`event seed ${seed}`);
    const rnd = createRandom(seed);
    const ids = ["a", "é", "日本", "😀x", "", "z".repeat(300)];
    for (let round = 0; round < 200; round++) {
      const ops: SealedOp[] = Array.from({ length: rnd.int(30) }, (_, i) => {
        const id = `${rnd.pick(ids)}${i}`;
        const r = rnd.next();
        if (r < 0.3) return [id, null];
        const doc = utf8(`d${i}`.repeat(rnd.int(40)));
        if (r < 0.6) return [id, doc];
        const fields = [...new Set(ids.map((f) => `${f}${rnd.int(3)}`))].sort();
        return [id, doc, fields.slice(0, rnd.int(fields.length))];
      });
      const h = rnd.int(rnd.next() < 0.1 ? 5_000_000 : 100) + 1;
      const bytes = encodeEvent({ h, ops });
      expect(
        Buffer.from(bytes).equals(Buffer.from(dagCbor.encode({ h, ops }))),
      ).toBe(true);
      const back = fromEventValue(dagCbor.decode(bytes), "test");
      expect(back.h).toBe(h);
      expect(back.ops).toEqual(ops);
    }
  });

  it("refuses malformed events with a CorruptError", () => {
    const doc = utf8("x");
    for (const bad of [
      null,
      [],
      { h: 0, ops: [] },
      { h: 1, ops: "x" },
      { h: 1, ops: [], root: null },
      { h: 1, ops: [[1, null]] },
      { h: 1, ops: [["a", "not bytes"]] },
      { h: 1, ops: [["a", null, []]] },
      { h: 1, ops: [["a", doc, ["b", "a"]]] },
      { h: 1, ops: [["a", doc, ["a", "a"]]] },
      { h: 1, ops: [["a", doc, [1]]] },
      {
        h: 1,
        ops: [
          ["a", doc],
          ["a", null],
        ],
      },
    ])
      expect(() => fromEventValue(bad, "test")).toThrow(
        expect.objectContaining({ code: "corrupt" }) as unknown,
      );
  });
});
