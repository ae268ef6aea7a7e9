import { describe, expect, it } from "vitest";
import { CID } from "multiformats/cid";
import { nodeCrypto } from "../blocks/node-crypto.js";
import { cidFor } from "../blocks/cid.js";
import { decodeValue } from "../blocks/codec.js";
import { createRandom, testSeed } from "../util/random.js";
import { utf8 } from "../util/bytes.js";
import type { TreeNode } from "./prolly-tree.js";
import { ProllyTree, decodeTreeNode } from "./prolly-tree.js";

function setup() {
  const blocks = new Map<string, Uint8Array>();
  const source = {
    getNode(cid: CID): Promise<TreeNode<CID>> {
      const bytes = blocks.get(cid.toString());
      if (!bytes) throw new Error(`missing node ${cid.toString()}`);
      return Promise.resolve(
        decodeTreeNode(
          cid,
          decodeValue(bytes, "node"),
          (v): v is CID => CID.asCID(v) !== null,
        ),
      );
    },
  };
  const tree = new ProllyTree<CID>({ source, crypto: nodeCrypto });
  const write = async (
    root: CID | undefined,
    edits: { key: string; value: CID | undefined }[],
  ) => {
    const u = await tree.apply(root, edits);
    for (const b of u.blocks) blocks.set(b.cid.toString(), b.bytes);
    return u.root;
  };
  return { tree, write, blocks };
}

const valueOf = (s: string) => cidFor(nodeCrypto, utf8(s));

async function all(tree: ProllyTree<CID>, root: CID | undefined, opts = {}) {
  const out: [string, string][] = [];
  for await (const [k, v] of tree.entries(root, opts))
    out.push([k, v.toString()]);
  return out;
}

describe("ProllyTree", () => {
  it("matches a map and a from-scratch build after random edits (history independence)", async () => {
    const seed = testSeed(process.env.KILN_SEED);
    console.log(`prolly-tree seed ${seed} (reproduce with KILN_SEED=${seed})`);
    const rnd = createRandom(seed);
    const { tree, write } = setup();
    const model = new Map<string, string>();
    let root: CID | undefined;
    for (let round = 0; round < 60; round++) {
      const edits: { key: string; value: CID | undefined }[] = [];
      const n = 1 + rnd.int(rnd.next() < 0.2 ? 400 : 8);
      for (let i = 0; i < n; i++) {
        const key = `k${rnd.int(1500).toString(36)}`;
        if (rnd.next() < 0.3) {
          edits.push({ key, value: undefined });
          model.delete(key);
        } else {
          const v = `${key}:${round}:${i}`;
          edits.push({ key, value: valueOf(v) });
          model.set(key, valueOf(v).toString());
        }
      }
      root = await write(root, edits);
      const expected = [...model.entries()].sort((a, b) =>
        a[0] < b[0] ? -1 : 1,
      );
      expect(await all(tree, root)).toEqual(expected);
      // A fresh tree built in one shuffled batch has the same root CID.
      const fresh = setup();
      const shuffled = expected.map(([k, v]) => ({
        key: k,
        value: CID.parse(v),
      }));
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = rnd.int(i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const freshRoot = await fresh.write(undefined, shuffled);
      expect(freshRoot?.toString()).toBe(root?.toString());
    }
  });

  it("gets keys and iterates ranges in both directions", async () => {
    const { tree, write } = setup();
    const keys = Array.from(
      { length: 2000 },
      (_, i) => `id${String(i).padStart(5, "0")}`,
    );
    const root = await write(
      undefined,
      keys.map((k) => ({ key: k, value: valueOf(k) })),
    );
    expect((await tree.get(root, "id01234"))?.toString()).toBe(
      valueOf("id01234").toString(),
    );
    expect(await tree.get(root, "nope")).toBeUndefined();
    expect(await tree.get(root, "id01234x")).toBeUndefined();
    const range = await all(tree, root, { gte: "id00100", lte: "id00199" });
    expect(range.map((e) => e[0])).toEqual(keys.slice(100, 200));
    const reverse = await all(tree, root, {
      gte: "id00100",
      lte: "id00199",
      reverse: true,
    });
    expect(reverse.map((e) => e[0])).toEqual(keys.slice(100, 200).reverse());
    const tail = await all(tree, root, { gte: "id019995" });
    expect(tail.map((e) => e[0])).toEqual(
      ["id01999"].filter((k) => k >= "id019995"),
    );
  });

  it("touches O(log n) nodes per single put", async () => {
    const { tree, write, blocks } = setup();
    const keys = Array.from({ length: 20000 }, (_, i) => `doc-${i}`);
    let root = await write(
      undefined,
      keys.map((k) => ({ key: k, value: valueOf(k) })),
    );
    let created = 0;
    for (let i = 0; i < 100; i++) {
      const u = await tree.apply(root, [
        { key: `doc-${i * 37}`, value: valueOf(`new${i}`) },
      ]);
      for (const b of u.blocks) blocks.set(b.cid.toString(), b.bytes);
      created += u.blocks.length;
      root = u.root;
    }
    // A 20k-entry tree with fanout 16 is about 4 levels deep; a put rewrites ~one node per level.
    expect(created / 100).toBeLessThan(7);
    expect(created / 100).toBeGreaterThanOrEqual(3);
  });
});
