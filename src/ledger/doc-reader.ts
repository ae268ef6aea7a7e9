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

  /** `id`'s current doc; with `conflicts`, the losing live versions as `_conflicts`. */
  async get(id: string, conflicts: boolean): Promise<Doc> {
    if (!conflicts) return this.current(id);
    await this.#loader.ready();
    const versions = this.#loader.state.versions.get(id);
    const winner = versions?.[0];
    if (!winner?.doc) throw new NotFoundError(id);
    const losers: Doc[] = [];
    for (const v of versions!.slice(1))
      if (v.doc)
        losers.push({ _id: id, ...(await this.#blocks.getDoc(id, v)) });
    return {
      _id: id,
      ...(await this.#blocks.getDoc(id, winner)),
      _conflicts: losers,
    };
  }

  /** `id`'s current doc (NotFoundError when it has none). */
  async current(id: string): Promise<Doc> {
    const { state } = this.#loader;
    if (!this.#loader.isLazy) {
      const winner = state.winner(id);
      if (!winner?.doc) throw new NotFoundError(id);
      return { _id: id, ...(await this.#blocks.getDoc(id, winner)) };
    }
    const cid = await state.tree.get(state.root, id);
    if (!cid) throw new NotFoundError(id);
    return { _id: id, ...(await this.#blocks.getDocByCid(id, cid)) };
  }

  /** `id`'s current doc without a promise when its body is cached. */
  cached(id: string): Doc | undefined {
    const winner = this.#loader.isLazy
      ? undefined
      : this.#loader.state.winner(id);
    const body = winner && this.#blocks.cachedBody(winner);
    return body && { _id: id, ...body };
  }

  /** The body of `id`'s current doc `cid`, which the tree names. */
  async at(id: string, cid: CID): Promise<DocBody> {
    if (this.#loader.isLazy) return this.#blocks.getDocByCid(id, cid);
    const winner = this.#loader.state.winner(id);
    if (!winner?.doc?.equals(cid))
      throw new CorruptError(
        "doc tree",
        `entry for ${JSON.stringify(id)} does not match its latest version`,
      );
    return this.#blocks.getDoc(id, winner);
  }

  /** The rows a change notification carries for `ids`. */
  async rows(ids: readonly string[]): Promise<ChangeRow[]> {
    const rows: ChangeRow[] = [];
    for (const id of ids) {
      const w = this.#loader.state.winner(id);
      rows.push(
        w?.doc
          ? { id, doc: { _id: id, ...(await this.#blocks.getDoc(id, w)) } }
          : { id, deleted: true },
      );
    }
    return rows;
  }
}
