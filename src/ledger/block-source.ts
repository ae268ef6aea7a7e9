// Where the ledger finds tree nodes and docs. Tree nodes made since the last checkpoint live
// in memory until a later write replaces them (so the current tree is always at hand);
// older ones are decoded on demand from the checkpoint. A doc body is cached on its
// version; a missing one is read from the checkpoint, or from the commit that wrote it
// (read from storage, verified and decrypted).
import { CID } from "multiformats/cid";
import { cidKey } from "../blocks/cid.js";
import { decodeValue } from "../blocks/codec.js";
import { encodeDocValue } from "../blocks/cbor-writer.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import { LedgerState } from "../crdt/ledger-state.js";
import type { Version } from "../crdt/merge.js";
import type { TreeNode } from "../crdt/prolly-tree.js";
import { decodeTreeNode } from "../crdt/prolly-tree.js";
import { encodeTreeNode } from "../crdt/tree-node-codec.js";
import type { Gateway } from "../gateways/gateway.js";
import type { Checkpoint, SavedIndex } from "./checkpoint.js";
import { CorruptError } from "../util/errors.js";
import { Lru } from "../util/lru.js";
import type { DocValue } from "./doc.js";
import { openCommit } from "./commit-reader.js";
import type { OpenedCommit } from "./commit-reader.js";

export type DocBody = Record<string, DocValue>;

const isCid = (v: unknown): v is CID => CID.asCID(v) !== null;

/** A doc's encoded bytes, cached on its version until it is read and decoded. */
class RawDoc {
  constructor(readonly bytes: Uint8Array) {}
}

/** How many doc bodies stay cached on their versions before the oldest are dropped. */
const CACHED_BODIES = 50_000;

export class BlockSource {
  readonly #storage: Gateway;
  readonly #ledger: string;
  readonly #crypto: CryptoProvider;
  readonly #key: Uint8Array;
  /** Keyed by CID object: a parent holds the very CID object its child node was made with. */
  readonly #live = new Map<CID, TreeNode<CID>>();
  #checkpoint: Checkpoint | undefined;
  /** Bodies read by id before the versions are loaded (see Ledger's lazy state). */
  readonly #byCid = new Lru<string, DocBody>(10_000);
  readonly #checkpointNodes = new Lru<string, TreeNode<CID>>(20_000);
  #cached: Version[] = [];

  readonly #versionsOf: (id: string) => readonly Version[] | undefined;

  constructor(options: {
    storage: Gateway;
    ledger: string;
    crypto: CryptoProvider;
    key: Uint8Array;
    /** The latest versions of an id, whose cache slots this source fills. */
    versionsOf: (id: string) => readonly Version[] | undefined;
  }) {
    this.#versionsOf = options.versionsOf;
    this.#storage = options.storage;
    this.#ledger = options.ledger;
    this.#crypto = options.crypto;
    this.#key = options.key;
  }

  /** Serves blocks from a checkpoint; nodes made before it are no longer kept in memory. */
  useCheckpoint(checkpoint: Checkpoint): void {
    this.#checkpoint = checkpoint;
    this.#checkpointNodes.clear();
    this.#byCid.clear();
    this.#live.clear();
  }

  /** Nodes a write or merge made, and the ones it replaced (which no current tree needs). */
  updateTree(
    created: readonly TreeNode<CID>[],
    replaced: readonly CID[],
  ): void {
    for (const cid of replaced) this.#live.delete(cid);
    for (const n of created) this.#live.set(n.cid, n);
  }

  peekNode(cid: CID): TreeNode<CID> | undefined {
    return this.#live.get(cid);
  }

  async getNode(cid: CID): Promise<TreeNode<CID>> {
    const live = this.#live.get(cid);
    if (live) return live;
    const key = cidKey(cid);
    const node = this.#checkpointNodes.get(key);
    if (node) return node;
    const bytes = this.#checkpoint?.nodeBytes(cid);
    if (!bytes)
      throw new CorruptError(
        `tree node ${cid.toString()}`,
        "not in memory nor in the checkpoint",
      );
    const decoded = decodeTreeNode(
      cid,
      decodeValue(bytes, `tree node ${cid.toString()}`),
      isCid,
    );
    this.#checkpointNodes.set(key, decoded);
    return Promise.resolve(decoded);
  }

  /** The field indexes the checkpoint saved. */
  savedIndexes(): SavedIndex[] {
    return this.#checkpoint?.indexes ?? [];
  }

  /**
   * A node of another tree kept in the checkpoint (an index), decoded with its own value
   * check. Not cached here: the index keeps the nodes it uses.
   */
  checkpointNode<V>(
    cid: CID,
    isValue: (v: unknown) => v is V,
  ): TreeNode<V> | undefined {
    const bytes = this.#checkpoint?.nodeBytes(cid);
    if (!bytes) return undefined;
    return decodeTreeNode(
      cid,
      decodeValue(bytes, `index node ${cid.toString()}`),
      isValue,
    );
  }

  /** Caches a body on its version (written locally, or just read). */
  cacheBody(version: Version, body: DocBody | RawDoc): void {
    if (version.cache !== undefined && !(version.cache instanceof RawDoc))
      return;
    const fresh = version.cache === undefined;
    version.cache = body;
    if (!fresh) return;
    this.#cached.push(version);
    if (this.#cached.length > CACHED_BODIES) {
      const drop = this.#cached.length - CACHED_BODIES * 0.9;
      for (let i = 0; i < drop; i++) this.#cached[i]!.cache = undefined;
      this.#cached = this.#cached.slice(drop);
    }
  }

  /** The decoded body cached on a version, if there is one (no I/O, no promise). */
  cachedBody(version: Version): DocBody | undefined {
    const c = version.cache;
    return c === undefined || c instanceof RawDoc ? undefined : (c as DocBody);
  }

  async getDoc(id: string, version: Version): Promise<DocBody> {
    if (version.cache instanceof RawDoc) {
      const body = decodeBody(version.cache.bytes, version.doc!);
      this.cacheBody(version, body);
      return body;
    }
    if (version.cache !== undefined) return version.cache as DocBody;
    const cid = version.doc;
    if (!cid)
      throw new CorruptError(
        `version ${version.event}`,
        "is a deletion, not a doc",
      );
    const saved = await this.#fromCheckpoint(id, cid);
    if (saved) {
      const body = decodeBody(saved, cid);
      this.cacheBody(version, body);
      return body;
    }
    await this.#cacheCommit(version.event);
    // The read above filled the slot (the compiler cannot see that through the call).
    const filled = version.cache as unknown;
    if (filled instanceof RawDoc) return this.getDoc(id, version);
    if (filled === undefined)
      throw new CorruptError(
        `commit ${version.event}`,
        `does not hold doc ${cid.toString()} of ${JSON.stringify(id)}`,
      );
    return filled as DocBody;
  }

  /**
   * Reads a commit and keeps the encoded bytes of every current version it wrote (decoded
   * when read): docs written together (a bulk) are usually read together, and one decrypt
   * then serves them all.
   */
  async #cacheCommit(commit: string): Promise<void> {
    this.cacheDocs(commit, await this.openCommit(CID.parse(commit)));
  }

  /** Caches the encoded bytes of every current version `commit` wrote, from its opened form. */
  cacheDocs(commit: string, opened: OpenedCommit): void {
    for (const [id, doc] of opened.event.ops) {
      if (!doc) continue;
      for (const v of this.#versionsOf(id) ?? [])
        if (v.event === commit && v.cache === undefined && v.doc?.equals(doc))
          // A copy: a view would keep the whole decrypted commit alive in the cache.
          this.cacheBody(v, new RawDoc(opened.docs.get(id)!.slice()));
    }
  }

  /** A doc named only by the tree (before the versions are loaded): it is in the checkpoint. */
  async getDocByCid(id: string, cid: CID): Promise<DocBody> {
    const key = cidKey(cid);
    const hit = this.#byCid.get(key);
    if (hit) return hit;
    const bytes = await this.#fromCheckpoint(id, cid);
    if (!bytes)
      throw new CorruptError(`doc ${cid.toString()}`, "not in the checkpoint");
    const body = decodeBody(bytes, cid);
    this.#byCid.set(key, body);
    return body;
  }

  /** The encoded bytes of a doc (for checkpoints): dag-cbor is deterministic, so a cached body re-encodes to the stored bytes. */
  /**
   * The encoded bytes of many docs at once (for a checkpoint): cached bodies re-encode (dag-cbor
   * is deterministic), the previous checkpoint serves its own, and every other commit is
   * read once for all the docs it holds — one doc at a time would re-read a bulk commit
   * for each of its docs.
   */
  async getDocsBytes(
    wanted: readonly (readonly [string, Version])[],
  ): Promise<Map<Version, Uint8Array>> {
    const out = new Map<Version, Uint8Array>();
    const byCommit = new Map<string, (readonly [string, Version])[]>();
    for (const [id, v] of wanted) {
      if (!v.doc || out.has(v)) continue;
      if (v.cache instanceof RawDoc) {
        out.set(v, v.cache.bytes);
        continue;
      }
      if (v.cache !== undefined) {
        out.set(v, encodeDocValue(v.cache));
        continue;
      }
      const saved = await this.#fromCheckpoint(id, v.doc);
      if (saved) out.set(v, saved);
      else {
        const list = byCommit.get(v.event);
        if (list) list.push([id, v]);
        else byCommit.set(v.event, [[id, v]]);
      }
    }
    for (const [commit, versions] of byCommit) {
      const opened = await this.openCommit(CID.parse(commit));
      const written = new Map(opened.event.ops.map((o) => [o[0], o[1]]));
      for (const [id, v] of versions) {
        const bytes = opened.docs.get(id);
        if (!bytes || !written.get(id)?.equals(v.doc!))
          throw new CorruptError(
            `commit ${commit}`,
            `does not hold doc ${v.doc!.toString()}`,
          );
        out.set(v, bytes);
      }
    }
    return out;
  }

  /** The encoded bytes of a tree node (for checkpoints). */
  async getNodeBytes(cid: CID): Promise<Uint8Array> {
    const saved = this.#checkpoint?.nodeBytes(cid);
    if (saved) return saved;
    const node = await this.getNode(cid);
    return encodeTreeNode(node.level, node.keys, node.values);
  }

  async #fromCheckpoint(id: string, cid: CID): Promise<Uint8Array | undefined> {
    return this.#checkpoint?.docBytes(id, cid, (c) => this.getNode(c));
  }

  /**
   * Commits that arrived from a remote and are being checked before they are stored: read
   * from here first, so a commit that fails to decrypt never reaches storage.
   */
  incoming: ReadonlyMap<string, Uint8Array> | undefined;

  /** The content key a commit names (envelope `k`): the ledger's key ring, once it has one. */
  keys: ((keyId: Uint8Array | undefined) => Uint8Array) | undefined;

  /** Reads, verifies and decrypts a commit from storage (or from `incoming`). */
  async openCommit(cid: CID): Promise<OpenedCommit> {
    const bytes =
      this.incoming?.get(cidKey(cid)) ??
      (await this.#storage.getCommit(this.#ledger, cid));
    if (!bytes)
      throw new CorruptError(
        `ledger ${this.#ledger}`,
        `commit ${cid.toString()} is missing from storage`,
      );
    return openCommit(this.#crypto, this.keys ?? this.#key, cid, bytes);
  }
}

/**
 * An empty merged state and the block source serving it: the source serves the state's tree
 * nodes and fills doc caches on the state's versions, so the two refer to each other.
 */
export function createSourcedState(options: {
  storage: Gateway;
  ledger: string;
  crypto: CryptoProvider;
  key: Uint8Array;
}): { state: LedgerState; blocks: BlockSource } {
  const blocks: BlockSource = new BlockSource({
    ...options,
    versionsOf: (id): readonly Version[] | undefined => state.versions.get(id),
  });
  const state: LedgerState = new LedgerState({
    source: blocks,
    crypto: options.crypto,
    bodyOf: (id, version) => blocks.getDoc(id, version),
    onTreeUpdate: (update) => blocks.updateTree(update.nodes, update.replaced),
  });
  return { state, blocks };
}

function decodeBody(bytes: Uint8Array, cid: CID): DocBody {
  return decodeDocBody(bytes, `doc ${cid.toString()}`);
}

/** Decodes a doc's encoded bytes; CorruptError (naming `subject`) when they are not a map. */
export function decodeDocBody(bytes: Uint8Array, subject: string): DocBody {
  const value = decodeValue(bytes, subject);
  if (
    typeof value !== "object" ||
    value === null ||
    Array.isArray(value) ||
    value instanceof Uint8Array
  )
    throw new CorruptError(subject, "doc block is not a map");
  return value as DocBody;
}
