// A replica's merged state as values: the clock, the latest versions of every doc, the
// current doc of each id (fields-merged where concurrent puts left several live versions)
// and the doc tree of the current docs. Local writes and remote events both pass through
// here; the caller seals commits and does all I/O (docs are read through `bodyOf`).
import type { CID } from "multiformats/cid";
import { encodeDocValue } from "../blocks/cbor-writer.js";
import { cidFor } from "../blocks/cid.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import { Clock } from "./clock.js";
import type { Body } from "./fields-merge.js";
import { mergeFields } from "./fields-merge.js";
import type { ClockEvent } from "./clock.js";
import type { MergeEvent, Op, Version, VersionMap } from "./merge.js";
import { compareVersions, mergeEvents, opFields } from "./merge.js";
import type { NodeSource, TreeEdit, TreeUpdate } from "./prolly-tree.js";
import { ProllyTree } from "./prolly-tree.js";

export type { Op };

export interface PlannedWrite {
  parents: string[];
  height: number;
}

export class LedgerState {
  readonly clock = new Clock();
  readonly versions: VersionMap = new Map();
  /**
   * The current doc of each id with several live latest versions: a version of no event
   * (its `event` and `height` are the winner's), holding the fields-merged doc and `losers`.
   */
  readonly merged = new Map<string, Version>();
  readonly tree: ProllyTree<CID>;
  #root: CID | undefined;
  /**
   * Doc-tree edits not applied yet (id → current doc, undefined: absent). The tree is
   * derived state that only reads by range, checkpoints and snapshots need, so it is
   * brought up to date when they ask (`treeRoot()`), one batch for many writes.
   */
  readonly #pending = new Map<string, CID | undefined>();
  #flushing: Promise<void> = Promise.resolve();
  readonly #onTreeUpdate: (update: TreeUpdate<CID>) => void;
  readonly #crypto: CryptoProvider;
  readonly #bodyOf: (id: string, version: Version) => Promise<Body>;

  constructor(options: {
    source: NodeSource<CID>;
    crypto: CryptoProvider;
    /** The doc a live version holds. */
    bodyOf: (id: string, version: Version) => Promise<Body>;
    /** Told of the nodes each tree update made and replaced (a node cache keeps them). */
    onTreeUpdate?: (update: TreeUpdate<CID>) => void;
  }) {
    this.tree = new ProllyTree<CID>(options);
    this.#onTreeUpdate = options.onTreeUpdate ?? (() => undefined);
    this.#crypto = options.crypto;
    this.#bodyOf = options.bodyOf;
  }

  /** Restores a state saved earlier (a checkpoint); only valid on an empty state. */
  restore(
    events: readonly ClockEvent[],
    versions: ReadonlyMap<string, Version[]>,
    root: CID | undefined,
    merged: ReadonlyMap<string, Version> = new Map(),
  ): void {
    this.clock.add(events);
    for (const [id, list] of versions) this.versions.set(id, list);
    for (const [id, v] of merged) this.merged.set(id, v);
    this.#root = root;
  }

  /** Forgets everything: the state is empty again (before restoring another one). */
  reset(): void {
    this.clock.clear();
    this.versions.clear();
    this.merged.clear();
    this.#pending.clear();
    this.#root = undefined;
  }

  /** Starts the tree at a saved root (a checkpoint's) with nothing else restored. */
  restoreRoot(root: CID | undefined): void {
    this.#root = root;
  }

  /** The doc tree's root with every write and merge so far applied. */
  async treeRoot(): Promise<CID | undefined> {
    const run = this.#flushing.then(async () => {
      if (this.#pending.size === 0) return;
      const edits: TreeEdit<CID>[] = [];
      for (const [key, value] of this.#pending) edits.push({ key, value });
      this.#pending.clear();
      const update = await this.tree.apply(this.#root, edits);
      this.#root = update.root;
      this.#onTreeUpdate(update);
    });
    this.#flushing = run.catch(() => undefined);
    await run;
    return this.#root;
  }

  /** The first of `id`'s latest versions (a live one if any is). */
  winner(id: string): Version | undefined {
    return this.versions.get(id)?.[0];
  }

  /** `id`'s current doc: the merged one, else the winner (doc null: deleted). */
  current(id: string): Version | undefined {
    return this.merged.get(id) ?? this.versions.get(id)?.[0];
  }

  /** The parents and height of a local write; nothing changes until `applyWrite`. */
  planWrite(): PlannedWrite {
    const parents = [...this.clock.heads];
    return { parents, height: this.clock.heightAfter(parents) };
  }

  /** Records a sealed local write. A local write descends from every head, so it supersedes
   * every version of the ids it touches. */
  applyWrite(cid: string, ops: readonly Op[], planned: PlannedWrite): void {
    const fields = opFields(ops);
    this.clock.add([
      {
        cid,
        parents: planned.parents,
        height: planned.height,
        ids: ops.map((o) => o[0]),
        ...(fields ? { fields } : {}),
      },
    ]);
    for (const [id, doc] of ops) {
      this.versions.set(id, [{ event: cid, height: planned.height, doc }]);
      this.merged.delete(id);
      this.#pending.set(id, doc ?? undefined);
    }
  }

  /** Folds remote (or replayed) events in; returns the ids whose current doc changed. */
  async merge(events: readonly MergeEvent[]): Promise<{ changed: string[] }> {
    const { changed } = mergeEvents(this.clock, this.versions, events);
    for (const id of changed) {
      await this.#mergeFields(id);
      this.#pending.set(id, this.current(id)?.doc ?? undefined);
    }
    return { changed };
  }

  /**
   * Takes back the ops of events merged earlier that have become void (a removed writer's
   * commits that its removal does not follow, docs/security.md): every id they wrote gets
   * the latest versions among the events that are not void — the state is then the one a
   * replica reaches that merged the void events as writing nothing. `opOf` gives an event's
   * op for an id (the caller reads the commit). Returns the ids touched.
   */
  async retract(
    voided: readonly string[],
    isVoid: (event: string) => boolean,
    opOf: (event: string, id: string) => Promise<CID | null>,
  ): Promise<string[]> {
    const ids = new Set<string>();
    for (const cid of voided)
      for (const id of this.clock.get(cid)?.ids ?? []) ids.add(id);
    if (ids.size === 0) return [];
    const writers = new Map<string, ClockEvent[]>();
    for (const e of this.clock.all()) {
      if (isVoid(e.cid)) continue;
      for (const id of e.ids)
        if (ids.has(id)) {
          const list = writers.get(id);
          if (list) list.push(e);
          else writers.set(id, [e]);
        }
    }
    for (const id of ids) {
      const candidates = writers.get(id) ?? [];
      const next: Version[] = [];
      for (const e of candidates)
        if (
          !candidates.some(
            (o) => o !== e && this.clock.isAncestor(e.cid, o.cid),
          )
        )
          next.push({
            event: e.cid,
            height: e.height,
            doc: await opOf(e.cid, id),
          });
      next.sort(compareVersions);
      if (next.length > 0) this.versions.set(id, next);
      else this.versions.delete(id);
      await this.#mergeFields(id);
      this.#pending.set(id, this.current(id)?.doc ?? undefined);
    }
    return [...ids];
  }

  /** Recomputes `id`'s merged doc after its latest versions changed. */
  async #mergeFields(id: string): Promise<void> {
    const live = (this.versions.get(id) ?? []).filter((v) => v.doc !== null);
    if (live.length < 2) {
      this.merged.delete(id);
      return;
    }
    const bodies: Body[] = [];
    for (const v of live) bodies.push(await this.#bodyOf(id, v));
    const { body, losers } = mergeFields(this.clock, id, live, bodies);
    this.merged.set(id, {
      event: live[0]!.event,
      height: live[0]!.height,
      doc: cidFor(this.#crypto, encodeDocValue(body)),
      cache: body,
      losers,
    });
  }
}
