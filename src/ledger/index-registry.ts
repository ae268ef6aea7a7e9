// The ledger's secondary indexes by name (`field:<path>` or `map:<sha-256 of the function's
// source>`), each made on first query and kept current from the changes feed. A map function
// is known by its source text, as CouchDB and PouchDB views are: it must depend only on the
// doc it is given (no captured variables), and two functions with the same text share one
// index. That is what lets a map index be saved with the checkpoint and resumed by another
// process.
import type { CryptoProvider } from "../blocks/crypto.js";
import { toBase64url, utf8 } from "../util/bytes.js";
import { InvalidArgumentError } from "../util/errors.js";
import type { BlockSource } from "./block-source.js";
import type { IndexSnapshot } from "./checkpoint-writer.js";
import type { DocReader } from "./doc-reader.js";
import { Index, fieldMap } from "./query.js";
import type { IndexSource, MapFn, QueryOptions, QueryRow } from "./query.js";
import { changeRows } from "./reads.js";
import type { StateLoader } from "./state-loader.js";

export class IndexRegistry {
  readonly #indexes = new Map<string, Index>();
  readonly #loader: StateLoader;
  readonly #blocks: BlockSource;
  readonly #reader: DocReader;
  readonly #crypto: CryptoProvider;
  readonly #onError: (error: unknown) => void;

  constructor(options: {
    loader: StateLoader;
    blocks: BlockSource;
    reader: DocReader;
    crypto: CryptoProvider;
    onError: (error: unknown) => void;
  }) {
    this.#loader = options.loader;
    this.#blocks = options.blocks;
    this.#reader = options.reader;
    this.#crypto = options.crypto;
    this.#onError = options.onError;
  }

  /**
   * Rows of an index sorted by CouchDB collation of the key, then doc id, after the index
   * caught up with every write. Run it in the write queue: the catch-up, the walk and the
   * docs then all see one state, so a row's doc is the version its key came from.
   */
  async query(
    index: string | MapFn,
    options: QueryOptions,
  ): Promise<{ rows: QueryRow[] }> {
    const rows: QueryRow[] = await this.#indexFor(index).query(options);
    if (options.includeDocs ?? true)
      for (const row of rows)
        // Most docs are cached: take them without a promise per row.
        row.doc =
          this.#reader.cached(row.id) ?? (await this.#reader.current(row.id));
    return { rows };
  }

  /** Every index's saved form, current at the ledger's clock (for a checkpoint). */
  snapshots(): Promise<IndexSnapshot[]> {
    return Promise.all(
      [...this.#indexes.values()].map((index) => index.snapshot()),
    );
  }

  #indexFor(index: string | MapFn): Index {
    let name: string;
    let map: MapFn;
    if (typeof index === "string") {
      if (index.length === 0)
        throw new InvalidArgumentError("query: the field name is empty");
      name = `field:${index}`;
      map = fieldMap(index);
    } else if (typeof index === "function") {
      name = `map:${toBase64url(this.#crypto.sha256(utf8(index.toString())))}`;
      map = index;
    } else
      throw new InvalidArgumentError(
        "query: index must be a field name or a map function",
      );
    const known = this.#indexes.get(name);
    if (known) return known;
    const loader = this.#loader;
    const source: IndexSource = {
      changes: async (since) => {
        // Unguarded: an index also catches up while close() writes the last checkpoint.
        await loader.ready();
        return changeRows(loader.state, since, undefined, (id, cid) =>
          this.#reader.at(id, cid),
        );
      },
      clock: () => loader.heads,
      crypto: this.#crypto,
      onError: this.#onError,
      savedNode: (cid, isValue) => this.#blocks.checkpointNode(cid, isValue),
    };
    const saved = this.#blocks.savedIndexes().find((i) => i.name === name);
    const created = new Index(name, map, source, saved);
    this.#indexes.set(name, created);
    return created;
  }
}
