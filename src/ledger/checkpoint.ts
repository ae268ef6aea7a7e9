// A checkpoint is the merged state of a ledger in one sealed blob, so a reopen reads one
// file instead of replaying every commit, and reads lazily: opening decodes only a small
// map; a get walks the checkpoint's tree and inflates one pack of docs; the clock and the
// version lists are inflated only when a write, a merge or a changes feed needs them.
// Sealed like a commit (parents = the heads it covers) and stored by the local storage only
// as [u8 cid length][cid][envelope]. Layout: docs/format.md.
import { CID } from "multiformats/cid";
import { verifyCid } from "../blocks/cid.js";
import { openBytes } from "../blocks/commit.js";
import type { Compression } from "../blocks/node-compression.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { Version } from "../crdt/merge.js";
import type { TreeNode } from "../crdt/prolly-tree.js";
import { lowerBound } from "../crdt/prolly-tree.js";
import { CorruptError, FormatVersionError } from "../util/errors.js";
import { equalBytes } from "../util/bytes.js";
import { Lru } from "../util/lru.js";
import {
  CID_BYTES,
  COMMIT_CID_PREFIX,
  DIGEST_BYTES,
  decodeCheckpointState,
  decodeLayoutValue,
  decodeStateCommits,
} from "./checkpoint-state.js";

export { CID_BYTES, COMMIT_CID_PREFIX, DIGEST_BYTES };

export const CHECKPOINT_VERSION = 2;
export const PREFIX = 12; // bytes of a block's sha2-256 digest kept in an index entry
export const ENTRY = PREFIX + 8; // digest prefix, u32 offset, u32 length
/** Uncompressed doc bytes per pack: big enough to compress well, small enough to inflate for one get. */
export const PACK_BYTES = 8 * 1024;

export interface CheckpointHead {
  cid: string;
  height: number;
}

/** What a checkpoint needs from the ledger to be written. */
export interface CheckpointSource {
  getNode(cid: CID): Promise<TreeNode<CID>>;
  getNodeBytes(cid: CID): Promise<Uint8Array>;
  getDocsBytes(
    wanted: readonly (readonly [string, Version])[],
  ): Promise<Map<Version, Uint8Array>>;
}

export interface Layout {
  v: number;
  root: CID | null;
  heads: [CID, number][];
  nodes: Uint8Array;
  nodeIndex: Uint8Array;
  packs: Uint8Array;
  packIndex: Uint8Array;
  extra: Uint8Array;
  extraIndex: Uint8Array;
  state: Uint8Array;
  /** Indexes: [name, clock, rows root, by-id root]; their nodes are in `nodes`. */
  indexes?: [string, CID[], CID | null, CID | null][];
}

/** A saved index: the clock it is current at and the roots of its two trees. */
export interface SavedIndex {
  /** `field:<path>` or `map:<sha-256 of the map function's source, base64url>`. */
  name: string;
  clock: string[];
  rows: CID | undefined;
  byId: CID | undefined;
}

/** A sorted table of (digest, offset, length) over one byte region. */
export class BlockTable {
  constructor(
    readonly index: Uint8Array,
    readonly region: Uint8Array,
  ) {}

  /**
   * The bytes stored for `cid`. Entries keep a 96-bit digest prefix, so a match is a
   * candidate that `accept` confirms (by hashing, or by a full digest stored with it).
   */
  get(
    cid: CID,
    accept: (bytes: Uint8Array) => boolean,
  ): Uint8Array | undefined {
    const digest = cid.multihash.digest;
    let lo = 0;
    let hi = this.index.length / ENTRY;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareDigest(this.index, mid * ENTRY, digest) < 0) lo = mid + 1;
      else hi = mid;
    }
    for (
      let i = lo;
      i < this.index.length / ENTRY &&
      compareDigest(this.index, i * ENTRY, digest) === 0;
      i++
    ) {
      const view = new DataView(
        this.index.buffer,
        this.index.byteOffset + i * ENTRY + PREFIX,
        8,
      );
      const offset = view.getUint32(0, true);
      const length = view.getUint32(4, true);
      if (offset + length > this.region.length)
        throw new CorruptError(
          "checkpoint",
          "an index entry points past its region",
        );
      const bytes = this.region.subarray(offset, offset + length);
      if (accept(bytes)) return bytes;
    }
    return undefined;
  }

  /** Entries may share one `bytes` object (several leaves in one doc pack): stored once. */
  static build(entries: { cid: CID; bytes: Uint8Array }[]): {
    index: Uint8Array;
    region: Uint8Array;
  } {
    const placed = new Map<Uint8Array, number>();
    let size = 0;
    for (const e of entries)
      if (!placed.has(e.bytes)) {
        placed.set(e.bytes, size);
        size += e.bytes.length;
      }
    const region = new Uint8Array(size);
    for (const [bytes, at] of placed) region.set(bytes, at);
    const sorted = [...entries].sort((a, b) =>
      compareDigest(a.cid.multihash.digest, 0, b.cid.multihash.digest),
    );
    const index = new Uint8Array(sorted.length * ENTRY);
    const view = new DataView(index.buffer);
    sorted.forEach((e, i) => {
      index.set(e.cid.multihash.digest.subarray(0, PREFIX), i * ENTRY);
      view.setUint32(i * ENTRY + PREFIX, placed.get(e.bytes)!, true);
      view.setUint32(i * ENTRY + PREFIX + 4, e.bytes.length, true);
    });
    return { index, region };
  }
}

export function compareDigest(
  table: Uint8Array,
  at: number,
  digest: Uint8Array,
  length = PREFIX,
): number {
  for (let i = 0; i < length; i++) {
    const d = table[at + i]! - digest[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

export class Checkpoint {
  /** The writer who sealed it and their signature, when its envelope is signed (snapshots). */
  sealedBy:
    | {
        readonly writer: Uint8Array;
        readonly signature: {
          readonly s: Uint8Array;
          readonly message: Uint8Array;
        };
      }
    | undefined;
  readonly heads: CheckpointHead[];
  readonly root: CID | undefined;
  readonly indexes: SavedIndex[];
  readonly #nodes: BlockTable;
  readonly #packs: BlockTable;
  readonly #extra: BlockTable;
  readonly #state: Uint8Array;
  readonly #compression: Compression;
  readonly #crypto: CryptoProvider;
  readonly #inflated = new Lru<number, [Uint8Array, Uint8Array[]][]>(256);
  /** The leaf the last docBytes() found, with its docs. */
  #lastLeaf: { node: TreeNode<CID>; docs: Uint8Array[] } | undefined;

  constructor(
    layout: Layout,
    compression: Compression,
    crypto: CryptoProvider,
  ) {
    this.heads = layout.heads.map(([cid, height]) => ({
      cid: cid.toString(),
      height,
    }));
    this.root = layout.root ?? undefined;
    this.indexes = (layout.indexes ?? []).map(([name, clock, rows, byId]) => ({
      name,
      clock: clock.map((c) => c.toString()),
      rows: rows ?? undefined,
      byId: byId ?? undefined,
    }));
    this.#nodes = new BlockTable(layout.nodeIndex, layout.nodes);
    this.#packs = new BlockTable(layout.packIndex, layout.packs);
    this.#extra = new BlockTable(layout.extraIndex, layout.extra);
    this.#state = layout.state;
    this.#compression = compression;
    this.#crypto = crypto;
  }

  nodeBytes(cid: CID): Uint8Array | undefined {
    return this.#nodes.get(cid, (bytes) => this.#hashes(bytes, cid));
  }

  #hashes(bytes: Uint8Array, cid: CID): boolean {
    return equalBytes(this.#crypto.sha256(bytes), cid.multihash.digest);
  }

  /** The bytes of `id`'s doc `cid`, if this checkpoint holds them. */
  async docBytes(
    id: string,
    cid: CID,
    getNode: (cid: CID) => Promise<TreeNode<CID>>,
  ): Promise<Uint8Array | undefined> {
    const extra = this.#extra.get(cid, (bytes) => this.#hashes(bytes, cid));
    if (extra) return extra;
    if (!this.root) return undefined;
    // Reads in id order (allDocs, a reset feed) hit the leaf of the read before: no walk.
    const last = this.#lastLeaf;
    if (last) {
      const i = lowerBound(last.node.keys, id);
      if (last.node.keys[i] === id && (last.node.values[i] as CID).equals(cid))
        return last.docs[i];
    }
    let node = await getNode(this.root);
    for (;;) {
      const i = lowerBound(node.keys, id);
      if (node.level === 0) {
        if (
          i >= node.keys.length ||
          node.keys[i] !== id ||
          !(node.values[i] as CID).equals(cid)
        )
          return undefined;
        const docs = this.#pack(node.cid);
        this.#lastLeaf = { node, docs };
        return docs[i];
      }
      if (i === node.keys.length) return undefined;
      node = await getNode(node.values[i] as CID);
    }
  }

  /** The docs of one leaf, from the pack that holds it (a pack holds consecutive leaves). */
  #pack(leaf: CID): Uint8Array[] {
    let docs: Uint8Array[] | undefined;
    const packed = this.#packs.get(
      leaf,
      (bytes) => (docs = this.#leafDocs(bytes, leaf)) !== undefined,
    );
    if (!packed || !docs)
      throw new CorruptError(
        "checkpoint",
        `no doc pack for leaf ${leaf.toString()}`,
      );
    return docs;
  }

  #leafDocs(packed: Uint8Array, leaf: CID): Uint8Array[] | undefined {
    let leaves = this.#inflated.get(packed.byteOffset);
    if (!leaves) {
      leaves = decodeLayoutValue<[Uint8Array, Uint8Array[]][]>(
        this.#compression.inflate(packed),
        "doc pack",
      );
      this.#inflated.set(packed.byteOffset, leaves);
    }
    const digest = leaf.multihash.digest;
    return leaves.find(([d]) => compareDigest(d, 0, digest, 32) === 0)?.[1];
  }

  /** The CIDs of every commit the checkpoint's clock holds (decoded on each call). */
  commits(): string[] {
    return decodeStateCommits(this.#state, this.#compression);
  }

  /** The clock and every id's latest versions; `winners` are the checkpoint tree's entries. */
  loadState(
    winners: AsyncIterable<[string, CID]>,
  ): ReturnType<typeof decodeCheckpointState> {
    return decodeCheckpointState(this.#state, this.#compression, winners);
  }
}

/** Throws IntegrityError/CorruptError for a damaged checkpoint, DecryptError for a wrong key. */
export async function decodeCheckpoint(
  bytes: Uint8Array,
  crypto: CryptoProvider,
  key: Uint8Array,
  compression: Compression,
): Promise<Checkpoint> {
  if (bytes.length < 2 || 1 + bytes[0]! > bytes.length)
    throw new CorruptError("checkpoint", "truncated");
  let cid: CID;
  try {
    cid = CID.decode(bytes.subarray(1, 1 + bytes[0]!));
  } catch (error) {
    throw new CorruptError("checkpoint", "bad cid", { cause: error });
  }
  const envelope = bytes.subarray(1 + bytes[0]!);
  verifyCid(crypto, cid, envelope);
  const { plaintext, writer, signature } = await openBytes(
    crypto,
    key,
    cid,
    envelope,
    "checkpoint",
  );
  const layout = decodeLayoutValue<Layout>(plaintext, "checkpoint");
  if (
    typeof layout === "object" &&
    layout !== null &&
    layout.v !== CHECKPOINT_VERSION
  )
    throw new FormatVersionError("checkpoint", layout.v);
  const isBytes = (v: unknown) => v instanceof Uint8Array;
  if (
    typeof layout !== "object" ||
    layout === null ||
    !Array.isArray(layout.heads) ||
    !layout.heads.every(
      (h) =>
        Array.isArray(h) &&
        CID.asCID(h[0]) !== null &&
        typeof h[1] === "number",
    ) ||
    (layout.root !== null && CID.asCID(layout.root) === null) ||
    ![
      layout.nodes,
      layout.nodeIndex,
      layout.packs,
      layout.packIndex,
      layout.extra,
      layout.extraIndex,
      layout.state,
    ].every(isBytes) ||
    [layout.nodeIndex, layout.packIndex, layout.extraIndex].some(
      (i) => i.length % ENTRY !== 0,
    ) ||
    !(
      layout.indexes === undefined ||
      (Array.isArray(layout.indexes) &&
        layout.indexes.every(
          (x) =>
            Array.isArray(x) &&
            typeof x[0] === "string" &&
            Array.isArray(x[1]) &&
            x[1].every((c) => CID.asCID(c) !== null) &&
            (x[2] === null || CID.asCID(x[2]) !== null) &&
            (x[3] === null || CID.asCID(x[3]) !== null),
        ))
    )
  )
    throw new CorruptError("checkpoint", "unknown version or shape");
  const checkpoint = new Checkpoint(layout, compression, crypto);
  if (writer && signature) checkpoint.sealedBy = { writer, signature };
  return checkpoint;
}
