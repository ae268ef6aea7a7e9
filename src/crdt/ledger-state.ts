// A replica's merged state as values: the clock, the latest versions of every doc, and the
// doc tree of the winners. Local writes and remote events both pass through here; the
// caller seals commits and does all I/O.
import type { CID } from "multiformats/cid";
import type { CryptoProvider } from "../blocks/crypto.js";
import { Clock } from "./clock.js";
import type { ClockEvent } from "./clock.js";
import type { MergeEvent, Op, Version, VersionMap } from "./merge.js";
import { mergeEvents, opFields } from "./merge.js";
import type { NodeSource, TreeEdit, TreeUpdate } from "./prolly-tree.js";
import { ProllyTree } from "./prolly-tree.js";

export type { Op };

export interface PlannedWrite {
  parents: string[];
  height: number;
  update: TreeUpdate<CID>;
}

export class LedgerState {
  readonly clock = new Clock();
  readonly versions: VersionMap = new Map();
  readonly tree: ProllyTree<CID>;
  root: CID | undefined;

  constructor(options: { source: NodeSource<CID>; crypto: CryptoProvider }) {
    this.tree = new ProllyTree<CID>(options);
  }

  /** Restores a state saved earlier (a checkpoint); only valid on an empty state. */
  restore(
    events: readonly ClockEvent[],
    versions: ReadonlyMap<string, Version[]>,
    root: CID | undefined,
  ): void {
    this.clock.add(events);
    for (const [id, list] of versions) this.versions.set(id, list);
    this.root = root;
  }

  winner(id: string): Version | undefined {
    return this.versions.get(id)?.[0];
  }

  /** Computes the tree after a local write; nothing changes until `applyWrite`. */
  async planWrite(ops: readonly Op[]): Promise<PlannedWrite> {
    const parents = [...this.clock.heads];
    const height = this.clock.heightAfter(parents);
    const update = await this.tree.apply(
      this.root,
      ops.map(([key, doc]) => ({ key, value: doc ?? undefined })),
    );
    return { parents, height, update };
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
    for (const [id, doc] of ops)
      this.versions.set(id, [{ event: cid, height: planned.height, doc }]);
    this.root = planned.update.root;
  }

  /** Folds remote (or replayed) events in and moves the tree to the new winners. */
  async merge(
    events: readonly MergeEvent[],
  ): Promise<{ changed: string[]; update: TreeUpdate<CID> }> {
    const { changed } = mergeEvents(this.clock, this.versions, events);
    const edits: TreeEdit<CID>[] = changed.map((id) => ({
      key: id,
      value: this.winner(id)?.doc ?? undefined,
    }));
    const update = await this.tree.apply(this.root, edits);
    this.root = update.root;
    return { changed, update };
  }
}
