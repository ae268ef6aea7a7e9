// Secondary indexes: a field (dotted path) or a map function, kept as a prolly tree of rows
// ordered by CouchDB collation, then doc id. An index catches up from `changes(since)` of
// the clock it last saw, so keeping it current costs O(changes × log n); `limit` and
// `descending` are applied inside the tree walk.
//
// Issue 3 status: indexes live in memory for the life of the ledger object and are rebuilt
// on first use after a reopen; storing them (encrypted) with the checkpoint is the next step.
import type { CID } from "multiformats/cid";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { IndexKey } from "../crdt/collate.js";
import {
  decodeKey,
  encodeKey,
  isIndexKey,
  keyPrefixRange,
} from "../crdt/collate.js";
import type { TreeEdit, TreeNode } from "../crdt/prolly-tree.js";
import { ProllyTree } from "../crdt/prolly-tree.js";
import { InvalidArgumentError, KilnError } from "../util/errors.js";
import type { Doc } from "./doc.js";
import type { ChangeRow } from "./reads.js";

export type { IndexKey };
export type Emit = (key: IndexKey, value?: IndexKey) => void;
export type MapFn = (doc: Doc, emit: Emit) => void;

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

export interface QueryRow {
  id: string;
  key: IndexKey;
  value: IndexKey | null;
  doc?: Doc;
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
  changes(since: string[]): Promise<{ rows: ChangeRow[]; clock: string[] }>;
  crypto: CryptoProvider;
  onError(error: unknown): void;
}

type RowValue = IndexKey | null;

export class Index {
  readonly #nodes = new Map<CID, TreeNode<RowValue>>();
  readonly #tree: ProllyTree<RowValue>;
  /** Doc id → the encoded row keys it emitted. */
  readonly #rowsOf = new Map<string, string[]>();
  #root: CID | undefined;
  #clock: string[] = [];
  #catchingUp: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly map: MapFn,
    readonly source: IndexSource,
  ) {
    this.#tree = new ProllyTree<RowValue>({
      crypto: source.crypto,
      source: {
        peekNode: (cid) => this.#nodes.get(cid),
        getNode: (cid) => {
          const n = this.#nodes.get(cid);
          if (!n)
            return Promise.reject(
              new KilnError(
                "corrupt",
                `index ${this.name}: node ${cid.toString()} is not held`,
              ),
            );
          return Promise.resolve(n);
        },
      },
    });
  }

  /** Folds in every change since the clock this index last saw. */
  catchUp(): Promise<void> {
    this.#catchingUp ??= this.#catchUp().finally(
      () => (this.#catchingUp = undefined),
    );
    return this.#catchingUp;
  }

  async #catchUp(): Promise<void> {
    const { rows, clock } = await this.source.changes(this.#clock);
    if (rows.length > 0) {
      const edits: TreeEdit<RowValue>[] = [];
      const next = new Map<string, string[]>();
      for (const row of rows) {
        for (const old of this.#rowsOf.get(row.id) ?? [])
          edits.push({ key: old, value: undefined });
        const keys: string[] = [];
        if ("doc" in row) {
          let n = 0;
          for (const [key, value] of this.#emitted(row.doc)) {
            const k = encodeKey([key, row.id, n++]);
            keys.push(k);
            edits.push({ key: k, value });
          }
        }
        next.set(row.id, keys);
      }
      // Later edits of a key win: a row that moves is deleted, then put again if it stays.
      const update = await this.#tree.apply(this.#root, edits);
      for (const cid of update.replaced) this.#nodes.delete(cid);
      for (const n of update.nodes) this.#nodes.set(n.cid, n);
      this.#root = update.root;
      for (const [id, keys] of next) {
        if (keys.length > 0) this.#rowsOf.set(id, keys);
        else this.#rowsOf.delete(id);
      }
    }
    this.#clock = clock;
  }

  #emitted(doc: Doc): [IndexKey, RowValue][] {
    const out: [IndexKey, RowValue][] = [];
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
  ): Promise<{ id: string; key: IndexKey; value: RowValue }[]> {
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
    const rows: { id: string; key: IndexKey; value: RowValue }[] = [];
    for (const range of ranges) {
      for await (const [k, value] of this.#tree.entries(this.#root, {
        ...range,
        reverse: descending,
      })) {
        if (limit !== undefined && rows.length >= limit) return rows;
        const [key, id] = decodeKey(k) as [IndexKey, string, number];
        rows.push({ id, key, value });
      }
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
