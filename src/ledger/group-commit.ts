// The local write path. Writes that queue up while a commit is being made (calls not awaited
// one by one) are committed together as one commit, in call order — a group commit: the
// same ops and merged state as one commit each, at a fraction of the cost.
import type { CommitSigner, SealExtras } from "../blocks/commit.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { Gateway } from "../gateways/gateway.js";
import { ClosedError, NotFoundError } from "../util/errors.js";
import { createDeferred } from "../util/deferred.js";
import type { Deferred } from "../util/deferred.js";
import type { SerialQueue } from "../util/serial-queue.js";
import type { BlockSource, DocBody } from "./block-source.js";
import type { Checkpointer } from "./checkpointer.js";
import type { CommitCids } from "./commit-cids.js";
import type { DocReader } from "./doc-reader.js";
import type { LedgerEvents } from "./ledger-events.js";
import type { StateLoader } from "./state-loader.js";
import { checkDeletions, sealWrite } from "./write-commit.js";
import type { PreparedDoc } from "./write-commit.js";

/** Most docs one group commit takes; the rest wait for the next. */
const MAX_GROUP_DOCS = 10_000;

export interface GroupCommitParts {
  ledger: string;
  storage: Gateway;
  loader: StateLoader;
  blocks: BlockSource;
  crypto: CryptoProvider;
  /** Signs every commit. */
  signer: CommitSigner;
  /** Checks this device may write, and adds the clear-text fields of each commit. */
  gate: WriteGate;
  cids: CommitCids;
  queue: SerialQueue;
  events: LedgerEvents;
  reader: DocReader;
  checkpointer: Checkpointer;
  isClosed: () => boolean;
}

/** What the write path asks of the ledger's membership (ledger-members.ts). */
export interface WriteGate {
  /**
   * Before sealing a commit on `parents` (with a membership `record`, or docs): throws when
   * this device may not write it there; returns the clear-text fields the commit carries
   * (the record, the key id) and the content key to seal it under.
   */
  beforeSeal(
    parents: readonly string[],
    record?: Uint8Array,
  ): { extras: SealExtras; key: Uint8Array };
  /** The commit is stored: the membership index takes it. */
  sealed(
    commit: string,
    parents: readonly string[],
    extras: SealExtras,
  ): Promise<void>;
}

interface PendingWrite {
  docs: readonly PreparedDoc[];
  /** A membership change: committed alone, with no docs (`record` null: the bare commit). */
  record?: MembershipChange;
  done: Deferred<string[]>;
}

/** What a membership commit carries: the record's bytes and, for a rotation, the new key. */
export interface MembershipChange {
  readonly record: Uint8Array | undefined;
}

export class GroupCommit {
  readonly #p: GroupCommitParts;
  readonly #pending: PendingWrite[] = [];
  #queued = false;

  constructor(parts: GroupCommitParts) {
    this.#p = parts;
  }

  /**
   * Queues a commit of a membership record and no docs, alone (with `record` undefined: a
   * commit of nothing, which carries the `create` record of a new membered ledger).
   */
  change(change: MembershipChange): Promise<string[]> {
    const write = {
      docs: [],
      record: change,
      done: createDeferred<string[]>(),
    };
    this.#pending.push(write);
    this.#schedule();
    return write.done.promise;
  }

  /** Queues a write; resolves with the clock after the commit that holds it. */
  write(docs: readonly PreparedDoc[]): Promise<string[]> {
    const write = { docs, done: createDeferred<string[]>() };
    this.#pending.push(write);
    this.#schedule();
    return write.done.promise;
  }

  #schedule(): void {
    if (this.#queued) return;
    this.#queued = true;
    this.#p.queue
      .run(async () => {
        this.#queued = false;
        await this.#commitPending();
        if (this.#pending.length > 0) this.#schedule();
      })
      .catch((error: unknown) => this.#p.events.emitError(error));
  }

  async #commitPending(): Promise<void> {
    let taken = 0;
    let count = 0;
    // A membership change is a commit of its own, in call order.
    if (this.#pending[0]?.record) taken = 1;
    else
      while (
        taken < this.#pending.length &&
        count < MAX_GROUP_DOCS &&
        !this.#pending[taken]!.record
      )
        count += this.#pending[taken++]!.docs.length;
    const batch = this.#pending.splice(0, taken);
    if (batch.length === 0) return;
    const change = batch[0]!.record;
    if (change) {
      try {
        if (this.#p.isClosed())
          throw new ClosedError(`ledger ${this.#p.ledger}`);
        await this.#p.loader.ready();
        batch[0]!.done.resolve(await this.#commit([], change.record));
      } catch (error) {
        batch[0]!.done.reject(error);
      }
      return;
    }
    try {
      if (this.#p.isClosed()) throw new ClosedError(`ledger ${this.#p.ledger}`);
      const { loader } = this.#p;
      await loader.ready();
      const { accepted, refused } = checkDeletions(
        batch,
        (id) => loader.state.current(id)?.doc != null,
      );
      for (const [w, id] of refused) w.done.reject(new NotFoundError(id));
      if (accepted.length === 0) return;
      const clock = await this.#commit(
        accepted.length === 1
          ? accepted[0]!.docs
          : accepted.flatMap((w) => w.docs),
      );
      for (const w of accepted) w.done.resolve(clock);
    } catch (error) {
      for (const w of batch) w.done.reject(error);
    }
  }

  /** Seals the docs (the last write of an id wins) into one commit and stores it. */
  async #commit(
    docs: readonly PreparedDoc[],
    record?: Uint8Array,
  ): Promise<string[]> {
    const { ledger, storage, loader, blocks, crypto, cids, events } = this.#p;
    const { state } = loader;
    const bases = new Map<string, DocBody>();
    for (const d of docs) {
      const current = d.body && !bases.has(d.id) && state.current(d.id);
      if (current && current.doc)
        bases.set(d.id, await blocks.getDoc(d.id, current));
    }
    const { extras, key } = this.#p.gate.beforeSeal(state.clock.heads, record);
    const { byId, ops, planned, parents, sealed } = await sealWrite(
      state,
      crypto,
      key,
      docs,
      bases,
      (head) => cids.cid(head),
      this.#p.signer,
      extras,
    );
    await Promise.all([
      storage.putCommit(ledger, sealed.cid, sealed.bytes),
      storage.putHeads(ledger, { add: [sealed.cid], remove: parents }),
    ]);
    const commit = cids.name(sealed.cid);
    state.applyWrite(commit, ops, planned);
    await this.#p.gate.sealed(commit, planned.parents, extras);
    this.#p.checkpointer.added(ops.length);
    events.emitChange({ commits: [commit], origin: undefined });
    // Docs just written are the likeliest to be read next; the cache is bounded.
    for (const d of byId.values())
      if (d.body) blocks.cacheBody(state.winner(d.id)!, d.body);
    if (events.wantsRows)
      events.emitRows(await this.#p.reader.rows(ops.map((o) => o[0])));
    return [...state.clock.heads];
  }
}
