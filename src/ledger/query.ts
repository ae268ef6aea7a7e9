// Secondary indexes: a field (dotted path) or a map function, kept as a prolly tree of rows
// ordered by CouchDB collation, then doc id. An index catches up from `changes(since)` of
// the clock it last saw, so keeping it current costs O(changes × log n); `limit` and
// `descending` are applied inside the tree walk.
//
// Indexes are saved (encrypted) in the ledger's checkpoint with the clock they are current
// at, so a reopen does not rebuild them. A map function is known by its source text.
import type { CID } from "multiformats/cid";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { IndexKey } from "../crdt/collate.js";
import { encodeKey, isIndexKey, keyPrefixRange } from "../crdt/collate.js";
import type { TreeEdit, TreeNode, TreeUpdate } from "../crdt/prolly-tree.js";
import { encodeTreeNode } from "../crdt/tree-node-codec.js";
import type { IndexSnapshot } from "./checkpoint-writer.js";
import { ProllyTree } from "../crdt/prolly-tree.js";
import { InvalidArgumentError, KilnError } from "../util/errors.js";
import type { Doc, DocFields } from "./doc.js";
import type { ChangesResult } from "./reads.js";

export type { IndexKey };
/** What a map function calls to add a row: its key and, optionally, a value. */
export type Emit = (key: IndexKey, value?: IndexKey) => void;
/** Emits index rows for a doc; typed ledgers pass their doc type `T`. */
export type MapFn<T extends object = DocFields> = (
  doc: Doc<T>,
  emit: Emit,
) => void;

/** Which rows of an index a query returns, and in what order. */
export interface QueryOptions {
  key?: IndexKey;
  keys?: IndexKey[];
  /** Inclusive [low, high]. */
  range?: [IndexKey, IndexKey];
  /** Keys that are strings starting with it, or arrays starting with its elements. */
  prefix?: string | IndexKey[];
  descending?: boolean;
  limit?: number;
  /** Attach each row's doc (default true). */
  includeDocs?: boolean;
}

/** A row of an index: the doc's id, the emitted key and value, and the doc (unless `includeDocs: false`). */
export interface QueryRow<T extends object = DocFields> {
  id: string;
  key: IndexKey;
  value: IndexKey | null;
  doc?: Doc<T>;
}

/** A map function that threw on a doc: the doc is skipped, the index goes on. */
export class MapError extends KilnError {
  constructor(
    readonly index: string,
    readonly id: string,
    options: { cause?: unknown },
  ) {
    super(
      "invalid-argument",
      `index ${index}: the map function threw on doc ${JSON.stringify(id.slice(0, 64))}`,
      options,
    );
  }
}

/** What an index needs from its ledger. */
export interface IndexSource {
  changes(since: string[]): Promise<ChangesResult>;
  /** The ledger's current heads, to skip a catch-up that has nothing to do. */
  clock(): string[];
  crypto: CryptoProvider;
  onError(error: unknown): void;
  /** A node saved in the checkpoint, decoded with the tree's value check. */
  savedNode<V>(
    cid: CID,
    isValue: (v: unknown) => v is V,
  ): TreeNode<V> | undefined;
}

/** A row's leaf value: [key, doc id, emitted value or null] (no decoding on reads). */
type RowValue = [IndexKey, string, IndexKey | null];
/** For walking nodes whose values are copied, not read (saving them). */
const isAny = (_v: unknown): _v is unknown => true;
const isRowValue = (v: unknown): v is RowValue =>
  Array.isArray(v) &&
  v.length === 3 &&
  isIndexKey(v[0]) &&
  typeof v[1] === "string" &&
  (v[2] === null || isIndexKey(v[2]));
const isRowKeys = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((k) => typeof k === "string");

/** Where an index starts: empty, or as a checkpoint saved it. */
export interface IndexStart {
  clock: string[];
  rows: CID | undefined;
  byId: CID | undefined;
}

/**
 * Two trees: rows (encoded [key, id, n] → value) and byId (doc id → its row keys, to
 * remove a doc's old rows when it changes). Both are content-addressed prolly trees; a
 * checkpoint saves them with the clock they are current at.
 */
export class Index {
  readonly #nodes = new Map<CID, TreeNode<unknown>>();
  readonly #rows: ProllyTree<RowValue>;
  readonly #byId: ProllyTree<string[]>;
  #rowsRoot: CID | undefined;
  #byIdRoot: CID | undefined;
  #clock: string[];
  #tail: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly map: MapFn,
    readonly source: IndexSource,
    start: IndexStart = { clock: [], rows: undefined, byId: undefined },
  ) {
    this.#clock = start.clock;
    this.#rowsRoot = start.rows;
    this.#byIdRoot = start.byId;
    const nodeSource = <V>(isValue: (v: unknown) => v is V) => ({
      peekNode: (cid: CID) => this.#nodes.get(cid) as TreeNode<V> | undefined,
      getNode: (cid: CID): Promise<TreeNode<V>> => {
        const held = this.#nodes.get(cid) ?? source.savedNode(cid, isValue);
        if (!held)
          return Promise.reject(
            new KilnError(
              "corrupt",
              `index ${this.name}: node ${cid.toString()} is not held`,
            ),
          );
        this.#nodes.set(cid, held);
        return Promise.resolve(held as TreeNode<V>);
      },
    });
    this.#rows = new ProllyTree<RowValue>({
      crypto: source.crypto,
      source: nodeSource(isRowValue),
    });
    this.#byId = new ProllyTree<string[]>({
      crypto: source.crypto,
      source: nodeSource(isRowKeys),
    });
    this.#nodeOf = (cid) => nodeSource(isAny).getNode(cid);
  }

  readonly #nodeOf: (cid: CID) => Promise<TreeNode<unknown>>;

  /** Folds in every change since the clock this index last saw. */
  catchUp(): Promise<void> {
    // Runs one after another: a catch-up already running may have read the changes before
    // this call's caller wrote, so this call gets a run of its own after it.
    const run = this.#tail.then(() => this.#catchUp());
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #catchUp(): Promise<void> {
    if (sameClock(this.#clock, this.source.clock())) return;
    const { rows, clock, reset } = await this.source.changes(this.#clock);
    if (reset) {
      // The feed starts again (the ledger no longer holds this index's clock): so does the
      // index, from empty.
      this.#nodes.clear();
      this.#rowsRoot = undefined;
      this.#byIdRoot = undefined;
    }
    if (rows.length > 0) {
      const rowEdits: TreeEdit<RowValue>[] = [];
      const idEdits: TreeEdit<string[]>[] = [];
      for (const row of rows) {
        for (const old of (await this.#byId.get(this.#byIdRoot, row.id)) ?? [])
          rowEdits.push({ key: old, value: undefined });
        const keys: string[] = [];
        if ("doc" in row) {
          let n = 0;
          for (const [key, value] of this.#emitted(row.doc)) {
            const k = encodeKey([key, row.id, n++]);
            keys.push(k);
            rowEdits.push({ key: k, value: [key, row.id, value] });
          }
        }
        idEdits.push({
          key: row.id,
          value: keys.length > 0 ? keys : undefined,
        });
      }
      // Later edits of a key win: a row that stays is deleted, then put again.
      this.#rowsRoot = this.#apply(
        await this.#rows.apply(this.#rowsRoot, rowEdits),
      );
      this.#byIdRoot = this.#apply(
        await this.#byId.apply(this.#byIdRoot, idEdits),
      );
    }
    this.#clock = clock;
  }

  #apply<V>(update: TreeUpdate<V>): CID | undefined {
    for (const cid of update.replaced) this.#nodes.delete(cid);
    for (const n of update.nodes) this.#nodes.set(n.cid, n);
    return update.root;
  }

  /** The index as a checkpoint saves it: its state and every node of its two trees. */
  async snapshot(): Promise<IndexSnapshot> {
    await this.catchUp();
    const nodes: { cid: CID; bytes: Uint8Array }[] = [];
    const stack = [this.#rowsRoot, this.#byIdRoot].filter(
      (c): c is CID => c !== undefined,
    );
    while (stack.length > 0) {
      const cid = stack.pop()!;
      const node = await this.#nodeOf(cid);
      nodes.push({
        cid,
        bytes: encodeTreeNode(node.level, node.keys, node.values),
      });
      if (node.level > 0) for (const c of node.values) stack.push(c as CID);
    }
    return {
      name: this.name,
      clock: this.#clock,
      rows: this.#rowsRoot,
      byId: this.#byIdRoot,
      nodes,
    };
  }

  #emitted(doc: Doc): [IndexKey, IndexKey | null][] {
    const out: [IndexKey, IndexKey | null][] = [];
    try {
      this.map(doc, (key, value) => {
        if (!isIndexKey(key))
          throw new InvalidArgumentError(`emit: key is not a JSON value`);
        if (value !== undefined && !isIndexKey(value))
          throw new InvalidArgumentError(`emit: value is not a JSON value`);
        out.push([key, value ?? null]);
      });
      return out;
    } catch (error) {
      this.source.onError(new MapError(this.name, doc._id, { cause: error }));
      return [];
    }
  }

  async query(
    options: QueryOptions,
  ): Promise<{ id: string; key: IndexKey; value: IndexKey | null }[]> {
    await this.catchUp();
    const { descending = false, limit } = options;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0))
      throw new InvalidArgumentError(
        "query: limit must be a non-negative integer",
      );
    const ranges: { gte?: string; lte?: string }[] = [];
    const exact = (k: IndexKey) => {
      if (!isIndexKey(k))
        throw new InvalidArgumentError("query: key is not a JSON value");
      const gte = `\u0006${encodeKey(k)}`;
      return { gte, lte: `${gte}\uffff` };
    };
    if (options.keys !== undefined) {
      if (!Array.isArray(options.keys))
        throw new InvalidArgumentError("query: keys must be an array");
      ranges.push(...options.keys.map(exact));
    } else if (options.key !== undefined) ranges.push(exact(options.key));
    else if (options.range !== undefined) {
      const [low, high] = options.range;
      if (!isIndexKey(low) || !isIndexKey(high))
        throw new InvalidArgumentError(
          "query: range must be [low, high] JSON values",
        );
      ranges.push({ gte: exact(low).gte, lte: exact(high).lte });
    } else if (options.prefix !== undefined) {
      const p = options.prefix;
      if (typeof p !== "string" && !(Array.isArray(p) && p.every(isIndexKey)))
        throw new InvalidArgumentError(
          "query: prefix must be a string or an array",
        );
      const r = keyPrefixRange(p);
      ranges.push({ gte: `\u0006${r.gte}`, lte: `\u0006${r.lte}` });
    } else ranges.push({});
    if (descending && options.keys === undefined) ranges.reverse();
    const rows: { id: string; key: IndexKey; value: IndexKey | null }[] = [];
    for (const range of ranges) {
      const left = limit === undefined ? undefined : limit - rows.length;
      if (left === 0) break;
      const found = await this.#rows.range(this.#rowsRoot, {
        ...range,
        reverse: descending,
        ...(left !== undefined ? { limit: left } : {}),
      });
      for (const [, [key, id, value]] of found) rows.push({ id, key, value });
    }
    return limit !== undefined ? rows.slice(0, limit) : rows;
  }
}

/** The map function of a field index: emits the value at a dotted path, when it is a key. */
export function fieldMap(path: string): MapFn {
  const parts = path.split(".");
  return (doc, emit) => {
    let v: unknown = doc;
    for (const p of parts) {
      if (typeof v !== "object" || v === null || Array.isArray(v)) return;
      v = (v as Record<string, unknown>)[p];
    }
    if (v !== undefined && isIndexKey(v)) emit(v);
  };
}

function sameClock(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((x, i) => x === sb[i]);
}
