// When and how the ledger writes checkpoints and drops history. A checkpoint bounds what a
// reopen after a crash must replay; compaction drops commits a checkpoint makes redundant,
// except those some remote has not acknowledged.
import type { CryptoProvider } from "../blocks/crypto.js";
import type { Compression } from "../blocks/node-compression.js";
import type { LocalStorage } from "../gateways/gateway.js";
import type { OnProgress } from "../util/progress.js";
import type { SerialQueue } from "../util/serial-queue.js";
import type { BlockSource } from "./block-source.js";
import { encodeCheckpoint } from "./checkpoint-writer.js";
import type { CommitCids } from "./commit-cids.js";
import type { IndexRegistry } from "./index-registry.js";
import type { StateLoader } from "./state-loader.js";
import type { OutboxStore } from "../sync/outbox.js";

export interface CheckpointerParts {
  ledger: string;
  local: LocalStorage;
  loader: StateLoader;
  blocks: BlockSource;
  crypto: CryptoProvider;
  key: Uint8Array;
  compression: Compression;
  indexes: IndexRegistry;
  outboxes: OutboxStore;
  cids: CommitCids;
  queue: SerialQueue;
  isClosed: () => boolean;
  onError: (error: unknown) => void;
  /** At least this many written ops (doc writes) between automatic checkpoints. */
  every: number;
  /** Ops replayed on open, since the last checkpoint. */
  uncheckpointed: number;
  /** Told after each automatic checkpoint (the ledger then publishes a snapshot). */
  onAutoCheckpoint?: () => void;
}

export class Checkpointer {
  readonly #p: CheckpointerParts;
  /** Ops written or merged since the last checkpoint. */
  #uncheckpointed: number;
  #queued = false;

  constructor(parts: CheckpointerParts) {
    this.#p = parts;
    this.#uncheckpointed = parts.uncheckpointed;
  }

  /**
   * Counts ops written or merged. Once the ops since the last checkpoint outnumber the docs
   * (and at least `every`), a checkpoint is queued behind the current write: its O(n) cost
   * is spread over the n writes before it. Counted in ops, not commits: a few large bulks
   * bound the replay as many puts do.
   */
  added(ops: number): void {
    this.#uncheckpointed += ops;
    const { every, loader, queue } = this.#p;
    if (
      this.#uncheckpointed < Math.max(every, loader.state.versions.size) ||
      this.#queued
    )
      return;
    this.#queued = true;
    queue
      .run(async () => {
        this.#queued = false;
        if (this.#p.isClosed()) return;
        await this.#checkpoint();
        this.#p.onAutoCheckpoint?.();
      })
      .catch((error: unknown) => this.#p.onError(error));
  }

  /**
   * Writes a checkpoint now (in the write queue) if anything was written or merged since the
   * last one: a page being hidden may not come back, and a reopen then loads instead of
   * replaying.
   */
  async flush(): Promise<void> {
    if (this.#uncheckpointed === 0 || this.#queued) return;
    this.#queued = true;
    await this.#p.queue.run(async () => {
      this.#queued = false;
      if (this.#p.isClosed() || this.#uncheckpointed === 0) return;
      await this.#checkpoint();
    });
  }

  /** Writes a checkpoint and drops every commit it makes redundant (in the write queue). */
  async compact(onProgress?: OnProgress): Promise<void> {
    // Three steps of unequal size; each is one storage call, so finer progress would be
    // invented.
    const report = (done: number) =>
      onProgress?.({ phase: "compact", done, total: 3 });
    report(0);
    await this.#checkpoint();
    report(1);
    const keep = await this.#retained();
    report(2);
    await this.#p.local.retainCommits(this.#p.ledger, keep);
    report(3);
  }

  /** The last checkpoint on close, if anything changed since the previous one. */
  async onClose(): Promise<void> {
    if (this.#uncheckpointed === 0) return;
    const size = await this.#checkpoint();
    // History the checkpoint already holds is dropped once it outweighs the state itself,
    // so a store does not grow with every write ever made — except commits a remote has
    // not acknowledged (see #retained). A ledger never connected keeps its history: its
    // first remote will need all of it, and a remote cannot yet be given a checkpoint
    // instead (an explicit compact() drops it all the same).
    const { ledger, local, outboxes } = this.#p;
    if (
      (await outboxes.hasRemotes()) &&
      (await local.sizeOf(ledger)) > 2 * size + 256 * 1024
    )
      await local.retainCommits(ledger, await this.#retained());
  }

  /** Writes a checkpoint and returns its size in bytes. */
  async #checkpoint(): Promise<number> {
    const { loader, blocks, crypto, key, local, compression, indexes } =
      this.#p;
    await loader.ready();
    // Indexes are saved with the state, current at the same clock.
    const { bytes, checkpoint } = await encodeCheckpoint(
      loader.state,
      blocks,
      crypto,
      key,
      compression,
      await indexes.snapshots(),
    );
    await local.putCheckpoint(this.#p.ledger, bytes);
    // From here on, blocks of older commits are read from the checkpoint.
    blocks.useCheckpoint(checkpoint);
    this.#uncheckpointed = 0;
    return bytes.length;
  }

  /**
   * What compaction keeps: the heads, and every commit some remote this ledger was ever
   * connected to has not acknowledged — its outbox.
   */
  async #retained(): Promise<Set<string>> {
    const { loader, cids, outboxes } = this.#p;
    const keep = await outboxes.unacknowledged({
      has: (cid) => loader.state.clock.has(cid),
      since: (boundary) => Promise.resolve(cids.since(boundary)),
    });
    for (const head of loader.state.clock.heads) keep.add(head);
    return keep;
  }
}
