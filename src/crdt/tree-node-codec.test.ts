import { describe, expect, it } from "vitest";
import { encodeValue } from "../blocks/codec.js";
import { cidFor } from "../blocks/cid.js";
import { nodeCrypto } from "../blocks/node-crypto.js";
import { createRandom, testSeed } from "../util/random.js";
import { utf8 } from "../util/bytes.js";
import { encodeTreeNode } from "./tree-node-codec.js";

describe("encodeTreeNode", () => {
  it("writes exactly the bytes of the generic dag-cbor encoder", () => {
    const seed = testSeed(process.env.KILN_SEED);
    console.log(`tree-node-codec seed ${seed}`);
    const rnd = createRandom(seed);
    const alphabet = ["a", "Z", "0", "é", "日", "😀", "\u0000", "~"];
    for (let round = 0; round < 300; round++) {
      const n = 1 + rnd.int(rnd.next() < 0.1 ? 400 : 30);
      const keys = new Set<string>();
      while (keys.size < n) {
        let k = "";
        const len = rnd.int(rnd.next() < 0.05 ? 300 : 24);
        for (let i = 0; i < len; i++) k += rnd.pick(alphabet);
        keys.add(k);
      }
      const sorted = [...keys].sort();
      const values = sorted.map((k) => cidFor(nodeCrypto, utf8(k)));
      const level = rnd.int(rnd.next() < 0.1 ? 300 : 5);
      expect(
        Buffer.from(encodeTreeNode(level, sorted, values)).equals(
          Buffer.from(encodeValue([level, sorted, values])),
        ),
      ).toBe(true);
    }
  });
});
