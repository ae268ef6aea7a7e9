// A prolly tree: a sorted, content-addressed search tree whose shape depends only on its
// set of entries, never on the order they were written (history independence). A level's
// entries are cut into nodes after every "boundary" entry, and whether an entry is a
// boundary depends only on its key and level; so an edit re-chunks only the node it lands
// in (and a neighbour when a boundary disappears), and a write costs O(log n) nodes.
//
// Node block (dag-cbor): [level, keys, values]. Leaves (level 0) hold the values; a branch
// holds, per child, the child's last key and the child's CID. Keys are strings ordered by
// UTF-16 code units (JavaScript's `<`).
import { CID } from "multiformats/cid";
import type { Block } from "../blocks/cid.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import { cidFor } from "../blocks/cid.js";
import { CorruptError } from "../util/errors.js";
import { isBoundary } from "./boundary.js";
import { encodeTreeNode } from "./tree-node-codec.js";

export interface TreeNode<V> {
  cid: CID;
  level: number;
  keys: string[];
  /** Leaf values (level 0) or child CIDs (branches). */
  values: (V | CID)[];
}

export interface NodeSource<V> {
  getNode(cid: CID): Promise<TreeNode<V>>;
  /** The node if it is at hand without I/O: lets hot paths skip a promise per level. */
  peekNode?(cid: CID): TreeNode<V> | undefined;
}

/** One edit: a value to put, or `undefined` to delete the key. */
export interface TreeEdit<V> {
  key: string;
  value: V | undefined;
}

export interface TreeUpdate<V> {
  root: CID | undefined;
  /** Nodes created by the update, to be stored with the commit. */
  blocks: Block[];
  /** The same nodes decoded, so a cache can keep them without decoding. */
  nodes: TreeNode<V>[];
  /** Nodes of the old tree that the new tree no longer contains. */
  replaced: CID[];
}

export function decodeTreeNode<V>(
  cid: CID,
  value: unknown,
  isValue: (v: unknown) => v is V,
): TreeNode<V> {
  const bad = (detail: string) =>
    new CorruptError(`tree node ${cid.toString()}`, detail);
  if (!Array.isArray(value) || value.length !== 3)
    throw bad("not a [level, keys, values] triple");
  const [level, keys, values] = value as [unknown, unknown, unknown];
  if (
    typeof level !== "number" ||
    !Number.isInteger(level) ||
    level < 0 ||
    level > 64
  )
    throw bad("bad level");
  if (
    !Array.isArray(keys) ||
    !Array.isArray(values) ||
    keys.length !== values.length ||
    keys.length === 0
  )
    throw bad("keys and values differ in length or are empty");
  for (let i = 0; i < keys.length; i++) {
    if (typeof keys[i] !== "string") throw bad("a key is not a string");
    if (i > 0 && !((keys[i - 1] as string) < (keys[i] as string)))
      throw bad("keys are not strictly ascending");
    const v: unknown = values[i];
    if (level === 0 ? !isValue(v) : CID.asCID(v) === null)
      throw bad(
        level === 0
          ? "a leaf value has the wrong type"
          : "a child is not a cid",
      );
  }
  return { cid, level, keys: keys as string[], values: values as (V | CID)[] };
}

export class ProllyTree<V> {
  readonly #source: NodeSource<V>;
  readonly #crypto: CryptoProvider;

  constructor(options: { source: NodeSource<V>; crypto: CryptoProvider }) {
    this.#source = options.source;
    this.#crypto = options.crypto;
  }

  async get(root: CID | undefined, key: string): Promise<V | undefined> {
    if (!root) return undefined;
    return this.#retrying((node) => {
      let n = node(root);
      for (;;) {
        const i = lowerBound(n.keys, key);
        if (n.level === 0)
          return i < n.keys.length && n.keys[i] === key
            ? (n.values[i] as V)
            : undefined;
        if (i === n.keys.length) return undefined;
        n = node(n.values[i] as CID);
      }
    });
  }

  /** Entries in key order (or reverse), within the inclusive bounds given. */
  async *entries(
    root: CID | undefined,
    options: { gte?: string; lte?: string; reverse?: boolean } = {},
  ): AsyncGenerator<[string, V]> {
    for await (const batch of this.#batches(root, options)) yield* batch;
  }

  /** Up to `limit` entries in key order (or reverse) within the bounds, as one array. */
  async range(
    root: CID | undefined,
    options: {
      gte?: string;
      lte?: string;
      reverse?: boolean;
      limit?: number;
    } = {},
  ): Promise<[string, V][]> {
    const out: [string, V][] = [];
    const limit = options.limit ?? Infinity;
    if (limit <= 0) return out;
    for await (const batch of this.#batches(root, options)) {
      for (const e of batch) {
        out.push(e);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  /** The entries within the bounds, one leaf's worth at a time (no promise per entry). */
  async *#batches(
    root: CID | undefined,
    options: { gte?: string; lte?: string; reverse?: boolean },
  ): AsyncGenerator<[string, V][]> {
    if (!root) return;
    const { gte, lte, reverse = false } = options;
    let node!: (cid: CID) => TreeNode<V>;
    const step = <T>(move: () => T) =>
      this.#retrying((n) => {
        node = n;
        return move();
      });
    const cursor = new Cursor((cid) => node(cid), root, 0);
    let leaf = await step(() => cursor.seek(reverse ? lte : gte, reverse));
    while (leaf) {
      const keys = leaf.keys;
      const batch: [string, V][] = [];
      let done = false;
      if (!reverse) {
        for (
          let i = gte === undefined ? 0 : lowerBound(keys, gte);
          i < keys.length;
          i++
        ) {
          const k = keys[i]!;
          if (lte !== undefined && k > lte) {
            done = true;
            break;
          }
          batch.push([k, leaf.values[i] as V]);
        }
      } else {
        const start =
          lte === undefined ? keys.length - 1 : upperBound(keys, lte) - 1;
        for (let i = start; i >= 0; i--) {
          const k = keys[i]!;
          if (gte !== undefined && k < gte) {
            done = true;
            break;
          }
          batch.push([k, leaf.values[i] as V]);
        }
      }
      if (batch.length > 0) yield batch;
      if (done) return;
      leaf = await step(() => (reverse ? cursor.previous() : cursor.next()));
    }
  }

  /**
   * Runs a synchronous walk over nodes in memory. A node not at hand stops the walk with
   * NeedNode; it is fetched and the walk (pure, or atomic per step) runs again.
   */
  async #retrying<T>(walk: (node: (cid: CID) => TreeNode<V>) => T): Promise<T> {
    const fetched = new Map<CID, TreeNode<V>>();
    const node = (cid: CID): TreeNode<V> => {
      const n = this.#source.peekNode?.(cid) ?? fetched.get(cid);
      if (!n) throw new NeedNode(cid);
      return n;
    };
    for (;;) {
      try {
        return walk(node);
      } catch (error) {
        if (!(error instanceof NeedNode)) throw error;
        fetched.set(error.cid, await this.#source.getNode(error.cid));
      }
    }
  }

  /** Applies edits (any order; the last edit of a key wins) and returns the new root. */
  async apply(
    root: CID | undefined,
    edits: readonly TreeEdit<V>[],
  ): Promise<TreeUpdate<V>> {
    const pending = normalize(edits) as TreeEdit<V | CID>[];
    // Synchronous over nodes in memory, so the hot path allocates no promise per level.
    return this.#retrying((node) => this.#applySync(root, pending, node));
  }

  #applySync(
    root: CID | undefined,
    edits: TreeEdit<V | CID>[],
    node: (cid: CID) => TreeNode<V>,
  ): TreeUpdate<V> {
    const created: TreeNode<V>[] = [];
    const blocks: Block[] = [];
    const emit = (
      level: number,
      keys: string[],
      values: (V | CID)[],
    ): TreeNode<V> => {
      const bytes = encodeTreeNode(level, keys, values);
      const cid = cidFor(this.#crypto, bytes);
      const made: TreeNode<V> = { cid, level, keys, values };
      created.push(made);
      blocks.push({ cid, bytes });
      return made;
    };

    let level = 0;
    let pending = edits;
    if (!root) {
      const puts = pending.filter((e) => e.value !== undefined);
      return {
        root: this.#buildUp(puts, 0, emit),
        blocks,
        nodes: created,
        replaced: [],
      };
    }
    const rootNode = node(root);
    const replaced: CID[] = [];
    let topLevelChunks: TreeNode<V>[];
    for (;;) {
      if (pending.length === 0)
        return { root, blocks, nodes: created, replaced };
      const { replacements, isRoot } = this.#applyLevel(
        root,
        rootNode,
        level,
        pending,
        emit,
        node,
      );
      for (const r of replacements) replaced.push(...r.removedCids);
      if (isRoot) {
        topLevelChunks = replacements[0]?.added ?? [];
        break;
      }
      const only = replacements.length === 1 ? replacements[0]! : undefined;
      if (
        only?.removed.length === 1 &&
        only.added.length === 1 &&
        only.removed[0] === only.added[0]!.keys.at(-1)
      ) {
        // The common single-write case: one node replaced by one with the same last key.
        pending = [{ key: only.removed[0]!, value: only.added[0]!.cid }];
      } else {
        const next = new Map<string, TreeEdit<V | CID>>();
        for (const r of replacements)
          for (const old of r.removed)
            next.set(old, { key: old, value: undefined });
        for (const r of replacements)
          for (const n of r.added)
            next.set(n.keys[n.keys.length - 1]!, {
              key: n.keys[n.keys.length - 1]!,
              value: n.cid,
            });
        pending = [...next.values()].sort((a, b) =>
          a.key < b.key ? -1 : a.key > b.key ? 1 : 0,
        );
      }
      level++;
    }
    // The root level was re-chunked: shrink (collapse single-child branches) or grow.
    if (topLevelChunks.length === 0)
      return { root: undefined, blocks, nodes: created, replaced };
    if (topLevelChunks.length === 1) {
      let top = topLevelChunks[0]!;
      if (top.level === 0 || top.keys.length > 1)
        return { root: top.cid, blocks, nodes: created, replaced };
      while (top.level > 0 && top.keys.length === 1) {
        const childCid = top.values[0] as CID;
        const made = created.find((n) => n.cid.equals(childCid));
        // An old node that becomes the root is no longer replaced.
        if (!made)
          replaced.splice(
            0,
            replaced.length,
            ...replaced.filter((c) => !c.equals(childCid)),
          );
        top = made ?? node(childCid);
      }
      const kept = keepReachable(created, top);
      return {
        root: top.cid,
        blocks: blocks.filter((b) => kept.has(b.cid)),
        nodes: created.filter((n) => kept.has(n.cid)),
        replaced,
      };
    }
    const entries = topLevelChunks.map((n) => ({
      key: n.keys[n.keys.length - 1]!,
      value: n.cid,
    }));
    return {
      root: this.#buildUp(entries, rootNode.level + 1, emit),
      blocks,
      nodes: created,
      replaced,
    };
  }

  /** Builds levels from sorted entries at `level` upward until one node remains. */
  #buildUp(
    entries: { key: string; value: V | CID | undefined }[],
    level: number,
    emit: (level: number, keys: string[], values: (V | CID)[]) => TreeNode<V>,
  ): CID | undefined {
    if (entries.length === 0) return undefined;
    for (;;) {
      const chunker = new Chunker(level, emit);
      for (const e of entries) chunker.add(e.key, e.value as V | CID);
      chunker.finish();
      if (chunker.chunks.length === 1) return chunker.chunks[0]!.cid;
      entries = chunker.chunks.map((n) => ({
        key: n.keys[n.keys.length - 1]!,
        value: n.cid,
      }));
      level++;
    }
  }

  #applyLevel(
    root: CID,
    rootNode: TreeNode<V>,
    level: number,
    edits: TreeEdit<V | CID>[],
    emit: (level: number, keys: string[], values: (V | CID)[]) => TreeNode<V>,
    node: (cid: CID) => TreeNode<V>,
  ): {
    replacements: {
      removed: string[];
      removedCids: CID[];
      added: TreeNode<V>[];
    }[];
    isRoot: boolean;
  } {
    const isRoot = rootNode.level === level;
    const cursor = new Cursor(node, root, level);
    const replacements: {
      removed: string[];
      removedCids: CID[];
      added: TreeNode<V>[];
    }[] = [];
    let i = 0;
    while (i < edits.length) {
      let current = cursor.seek(edits[i]!.key, false);
      if (!current)
        throw new CorruptError(
          `tree ${root.toString()}`,
          `no node at level ${level}`,
        );
      const chunker = new Chunker(level, emit);
      const removed: string[] = [];
      const removedCids: CID[] = [];
      for (;;) {
        removed.push(current.keys[current.keys.length - 1]!);
        removedCids.push(current.cid);
        const last = !cursor.hasNext();
        const bound = current.keys[current.keys.length - 1]!;
        // Merge the node's entries with the edits that fall into it.
        let k = 0;
        const keys = current.keys;
        while (
          k < keys.length ||
          (i < edits.length && (last || edits[i]!.key <= bound))
        ) {
          const edit =
            i < edits.length && (last || edits[i]!.key <= bound)
              ? edits[i]!
              : undefined;
          const key = k < keys.length ? keys[k]! : undefined;
          if (edit && (key === undefined || edit.key <= key)) {
            if (edit.value !== undefined) chunker.add(edit.key, edit.value);
            if (key === edit.key) k++;
            i++;
          } else {
            chunker.add(key!, current.values[k]!);
            k++;
          }
        }
        if (last) {
          chunker.finish();
          break;
        }
        // Resynchronised: the re-chunked run ended on an old node boundary, so the rest of
        // the level is unchanged; the next edit (if any) starts a new run from its own node.
        if (!chunker.isOpen()) break;
        const nextNode = cursor.next();
        if (!nextNode) {
          chunker.finish();
          break;
        }
        current = nextNode;
      }
      replacements.push({ removed, removedCids, added: chunker.chunks });
    }
    return { replacements, isRoot };
  }
}

/** Created nodes still reachable from the new root: a collapse orphans the ones above it. */
function keepReachable<V>(created: TreeNode<V>[], top: TreeNode<V>): Set<CID> {
  const keep = new Set<CID>();
  const stack = [top];
  while (stack.length > 0) {
    const n = stack.pop()!;
    keep.add(n.cid);
    if (n.level > 0)
      for (const c of n.values) {
        const child = created.find((m) => m.cid === c);
        if (child) stack.push(child);
      }
  }
  return keep;
}

class Chunker<V> {
  readonly chunks: TreeNode<V>[] = [];
  #keys: string[] = [];
  #values: (V | CID)[] = [];

  constructor(
    readonly level: number,
    readonly emit: (
      level: number,
      keys: string[],
      values: (V | CID)[],
    ) => TreeNode<V>,
  ) {}

  add(key: string, value: V | CID): void {
    this.#keys.push(key);
    this.#values.push(value);
    if (isBoundary(key, this.level)) this.#close();
  }

  isOpen(): boolean {
    return this.#keys.length > 0;
  }

  finish(): void {
    if (this.#keys.length > 0) this.#close();
  }

  #close(): void {
    this.chunks.push(this.emit(this.level, this.#keys, this.#values));
    this.#keys = [];
    this.#values = [];
  }
}

/** A node that must be fetched before a synchronous tree walk can go on. */
class NeedNode extends Error {
  constructor(readonly cid: CID) {
    super(`tree node ${cid.toString()} is not loaded`);
  }
}

/**
 * A position at one level of the tree: the path of (node, child index) from the root. Moves
 * are synchronous over `node`, which throws NeedNode for a node not at hand; a move that
 * throws leaves the position as it was, so the caller can fetch and retry.
 */
class Cursor<V> {
  #path: { node: TreeNode<V>; index: number }[] = [];

  constructor(
    readonly node: (cid: CID) => TreeNode<V>,
    readonly root: CID,
    readonly level: number,
  ) {}

  /** The node at `level` that holds (or would hold) `key`; undefined key = first or last. */
  seek(key: string | undefined, fromEnd: boolean): TreeNode<V> | undefined {
    const path: { node: TreeNode<V>; index: number }[] = [];
    let node = this.node(this.root);
    if (node.level < this.level) return undefined;
    while (node.level > this.level) {
      let i: number;
      if (key === undefined) i = fromEnd ? node.keys.length - 1 : 0;
      else i = Math.min(lowerBound(node.keys, key), node.keys.length - 1);
      path.push({ node, index: i });
      node = this.node(node.values[i] as CID);
    }
    path.push({ node, index: 0 });
    this.#path = path;
    return node;
  }

  hasNext(): boolean {
    for (let d = this.#path.length - 2; d >= 0; d--) {
      const p = this.#path[d]!;
      if (p.index < p.node.keys.length - 1) return true;
    }
    return false;
  }

  next(): TreeNode<V> | undefined {
    return this.#step(1);
  }

  previous(): TreeNode<V> | undefined {
    return this.#step(-1);
  }

  #step(dir: 1 | -1): TreeNode<V> | undefined {
    let d = this.#path.length - 2;
    while (d >= 0) {
      const p = this.#path[d]!;
      const j = p.index + dir;
      if (j >= 0 && j < p.node.keys.length) break;
      d--;
    }
    if (d < 0) return undefined;
    const path = this.#path.slice(0, d);
    const top = this.#path[d]!;
    path.push({ node: top.node, index: top.index + dir });
    let node = this.node(top.node.values[top.index + dir] as CID);
    while (node.level > this.level) {
      const i = dir === 1 ? 0 : node.keys.length - 1;
      path.push({ node, index: i });
      node = this.node(node.values[i] as CID);
    }
    path.push({ node, index: 0 });
    this.#path = path;
    return node;
  }
}

function normalize<V>(edits: readonly TreeEdit<V>[]): TreeEdit<V>[] {
  if (edits.length === 1) return [edits[0]!];
  const last = new Map<string, TreeEdit<V>>();
  for (const e of edits) last.set(e.key, e);
  return [...last.values()].sort((a, b) =>
    a.key < b.key ? -1 : a.key > b.key ? 1 : 0,
  );
}

/** First index whose key is >= `key`. */
export function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose key is > `key`. */
function upperBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
