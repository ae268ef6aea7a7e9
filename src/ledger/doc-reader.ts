// Reads of docs over the merged state: a doc by id (with its conflicts), the doc an index or
// the tree names, and the rows a change notification carries. Works on a lazy state too,
// where the checkpoint's tree answers reads by id.
import type { CID } from "multiformats/cid";
import { CorruptError, NotFoundError } from "../util/errors.js";
import type { BlockSource, DocBody } from "./block-source.js";
import type { Doc } from "./doc.js";
import type { ChangeRow } from "./reads.js";
import type { StateLoader } from "./state-loader.js";

export class DocReader {
  readonly #loader: StateLoader;
  readonly #blocks: BlockSource;

  constructor(loader: StateLoader, blocks: BlockSource) {
    this.#loader = loader;
    this.#blocks = blocks;
  }

  /**
   * `id`'s current doc; with `conflicts`, as `_conflicts` the whole docs of the live versions
   * that lost a field written concurrently (see crdt/fields-merge.ts).
   */
  async get(id: string, conflicts: boolean): Promise<Doc> {
    if (!conflicts) return this.current(id);
    await this.#loader.ready();
    const current = this.#loader.state.current(id);
    if (!current?.doc) throw new NotFoundError(id);
    const losers: Doc[] = [];
    for (const v of current.losers ?? [])
      losers.push({ _id: id, ...(await this.#blocks.getDoc(id, v)) });
    return {
      _id: id,
      ...(await this.#blocks.getDoc(id, current)),
      _conflicts: losers,
    };
  }

  /** `id`'s current doc (NotFoundError when it has none). */
  async current(id: string): Promise<Doc> {
    const { state } = this.#loader;
    if (!this.#loader.isLazy) {
      const current = state.current(id);
      if (!current?.doc) throw new NotFoundError(id);
      return { _id: id, ...(await this.#blocks.getDoc(id, current)) };
    }
    const cid = await state.tree.get(await state.treeRoot(), id);
    if (!cid) throw new NotFoundError(id);
    return { _id: id, ...(await this.#blocks.getDocByCid(id, cid)) };
  }

  /** Whether `id` has a live doc. */
  async has(id: string): Promise<boolean> {
    const { state } = this.#loader;
    if (!this.#loader.isLazy) return state.current(id)?.doc != null;
    return (await state.tree.get(await state.treeRoot(), id)) !== undefined;
  }

  /** `id`'s current doc without a promise when its body is cached. */
  cached(id: string): Doc | undefined {
    const current = this.#loader.isLazy
      ? undefined
      : this.#loader.state.current(id);
    const body = current && this.#blocks.cachedBody(current);
    return body && { _id: id, ...body };
  }

  /** The body of `id`'s current doc `cid`, which the tree names. */
  async at(id: string, cid: CID): Promise<DocBody> {
    if (this.#loader.isLazy) return this.#blocks.getDocByCid(id, cid);
    const current = this.#loader.state.current(id);
    if (!current?.doc?.equals(cid))
      throw new CorruptError(
        "doc tree",
        `entry for ${JSON.stringify(id)} does not match its current doc`,
      );
    return this.#blocks.getDoc(id, current);
  }

  /** The rows a change notification carries for `ids`. */
  async rows(ids: readonly string[]): Promise<ChangeRow[]> {
    const rows: ChangeRow[] = [];
    for (const id of ids) {
      const w = this.#loader.state.current(id);
      rows.push(
        w?.doc
          ? { id, doc: { _id: id, ...(await this.#blocks.getDoc(id, w)) } }
          : { id, deleted: true },
      );
    }
    return rows;
  }
}
