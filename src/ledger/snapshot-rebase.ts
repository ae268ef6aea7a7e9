// Starting over from a snapshot with commits of one's own on top. A replica that was offline
// while its remote let history go (publish with retain "snapshot") holds commits the
// snapshot does not cover — its unsent writes — on top of history it lacks and can no longer
// get as commits. It takes the snapshot's state (whose clock holds every commit the snapshot
// covers, so the parents of its own commits are known) and merges its own uncovered commits
// again, read from local storage, where the outbox kept them. The merged state is the one any
// replica computes from the same set of events: merge depends only on that set.
import { CID } from "multiformats/cid";
import type { LocalStorage } from "../gateways/gateway.js";
import type { Gateway } from "../gateways/gateway.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { MergeEvent } from "../crdt/merge.js";
import type { BlockSource } from "./block-source.js";
import { createSourcedState } from "./block-source.js";
import type { Checkpoint } from "./checkpoint.js";
import type { StateLoader } from "./state-loader.js";

export interface RebaseParts {
  ledger: string;
  local: LocalStorage;
  loader: StateLoader;
  blocks: BlockSource;
  crypto: CryptoProvider;
  key: Uint8Array;
  storage: Gateway;
}

/**
 * Replaces the (loaded) state with `checkpoint`'s plus this replica's commits it does not
 * cover. Everything is read before anything changes: a commit of its own missing from
 * storage, or a snapshot state that does not decode, leaves the ledger as it was.
 */
export async function rebaseOnSnapshot(
  parts: RebaseParts,
  checkpoint: Checkpoint,
  bytes: Uint8Array,
): Promise<void> {
  const { ledger, local, loader, blocks, crypto, key, storage } = parts;
  const { state } = loader;
  const covered = new Set(checkpoint.commits());
  const own: MergeEvent[] = [];
  for (const e of state.clock.all())
    if (!covered.has(e.cid))
      own.push((await blocks.openCommit(CID.parse(e.cid))).event);
  // The snapshot's tree is walked through a block source of its own: this ledger's keeps
  // serving its current state until the snapshot's is known to decode.
  const reader = createSourcedState({ storage, ledger, crypto, key });
  reader.blocks.useCheckpoint(checkpoint);
  const { events, versions, merged } = await checkpoint.loadState(
    reader.state.tree.entries(checkpoint.root),
  );
  await local.putCheckpoint(ledger, bytes);
  blocks.useCheckpoint(checkpoint);
  state.reset();
  state.restore(events, versions, checkpoint.root, merged);
  await state.merge(own);
}
