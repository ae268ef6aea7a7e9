// Builds the parts a Ledger fronts from what openLedger() gathered: the loader and reader,
// indexes, checkpointer, merger, group commit, snapshots, sync host, schema gate, storage
// follower, and the write and read paths over them. The Ledger class only delegates to them.
import type { CryptoProvider } from "../blocks/crypto.js";
import type { Compression } from "../blocks/node-compression.js";
import type { LedgerState } from "../crdt/ledger-state.js";
import type { Gateway, LocalStorage } from "../gateways/gateway.js";
import type { Registry } from "../gateways/registry.js";
import { OutboxStore } from "../sync/outbox.js";
import type { TabLink } from "../sync/tab-link.js";
import type { Signer, SigningProvider } from "../trust/signing.js";
import { SerialQueue } from "../util/serial-queue.js";
import type { BlockSource } from "./block-source.js";
import type { Checkpoint } from "./checkpoint.js";
import { Checkpointer } from "./checkpointer.js";
import { CommitCids } from "./commit-cids.js";
import { DocReader } from "./doc-reader.js";
import { GatedReads } from "./gated-reads.js";
import { GroupCommit } from "./group-commit.js";
import { IndexRegistry } from "./index-registry.js";
import type { PastParts } from "./ledger-at.js";
import { LedgerEvents } from "./ledger-events.js";
import { registerInternals } from "./ledger-internals.js";
import { LedgerLife } from "./ledger-life.js";
import type { Teardown } from "./ledger-life.js";
import type { KeyRing } from "./key-ring.js";
import type { LedgerMembers } from "./ledger-members.js";
import { LedgerSnapshots } from "./ledger-snapshots.js";
import type { LedgerTrustParts } from "./ledger-trust.js";
import { LedgerWrites } from "./ledger-writes.js";
import { Merger } from "./merger.js";
import { SchemaGate } from "./schema-gate.js";
import type { DocSchema } from "./schema-gate.js";
import { StateLoader } from "./state-loader.js";
import { followStorage } from "./storage-follower.js";
import { LedgerSync } from "./sync-host.js";

/** What openLedger() hands the Ledger constructor. */
export interface LedgerParts {
  name: string;
  storage: Gateway & { local: LocalStorage };
  /** The gateway registry the ledger was opened with; connect() resolves through it. */
  registry: Registry;
  /** Shares a remote among the tabs of an origin (Platform.tabLink), where they share storage. */
  tabLink?: ((remoteId: string) => TabLink | undefined) | undefined;
  state: LedgerState;
  blocks: BlockSource;
  crypto: CryptoProvider;
  key: Uint8Array;
  /** The device's writer, signing every commit. */
  writer: Signer;
  /** Checks the signatures of commits from elsewhere. */
  signing: SigningProvider;
  /** Who may write: the membership rule applied to every commit. */
  members: LedgerMembers;
  /** The content keys: the ledger key and those rotations gave this replica. */
  ring: KeyRing;
  compression: Compression;
  newId: () => string;
  /** Set when the ledger opened from a checkpoint whose clock and versions are not loaded yet. */
  lazy: Checkpoint | undefined;
  /** Subscribes to the page being hidden (Platform.onHidden): a checkpoint is written then. */
  onHidden?: ((listener: () => void) => () => void) | undefined;
  /** At least this many written ops (doc writes) between automatic checkpoints. */
  checkpointEvery: number;
  /** Ops replayed on open, since the last checkpoint. */
  uncheckpointed: number;
  /** The docs' schema, checked on writes and reads (see schema-gate.ts). */
  schema?: DocSchema | undefined;
  /** Local writes are refused with a ReadOnlyError. */
  readOnly?: boolean;
}

/** The assembled parts, each with one job. */
export interface LedgerAssembly {
  life: LedgerLife;
  queue: SerialQueue;
  events: LedgerEvents;
  loader: StateLoader;
  checkpointer: Checkpointer;
  sync: LedgerSync;
  gate: SchemaGate | undefined;
  writes: LedgerWrites;
  reads: GatedReads;
  /** What history() and at() read: storage, the clock, the key. */
  past: PastParts;
  /** What invite() and remove() write through (ledger-trust.ts). */
  trust: LedgerTrustParts;
  /** What close() and destroy() take down, in order (ledger-life.ts). */
  teardown: Teardown;
}

/** Wires the parts of the ledger `owner` (registered for exportLedger and the like). */
export function assembleLedger(
  owner: object,
  parts: LedgerParts,
): LedgerAssembly {
  const { name, storage, state, blocks, crypto, key } = parts;
  const life = new LedgerLife(name);
  const queue = new SerialQueue();
  const events = new LedgerEvents();
  const isClosed = () => life.closed;
  const onError = (error: unknown) => events.emitError(error);
  const loader = new StateLoader(state, parts.lazy);
  const cids = new CommitCids(state.clock);
  const reader = new DocReader(loader, blocks);
  const outboxes = new OutboxStore(storage.local, name);
  const indexes = new IndexRegistry({
    loader,
    blocks,
    reader,
    crypto,
    onError,
  });
  // What writing (and reading back) a sealed checkpoint needs: checkpoints and snapshots.
  const sealing = {
    ledger: name,
    local: storage.local,
    loader,
    blocks,
    crypto,
    key,
    compression: parts.compression,
  };
  const checkpointer = new Checkpointer({
    ...sealing,
    indexes,
    outboxes,
    cids,
    queue,
    isClosed,
    onError,
    every: parts.checkpointEvery,
    uncheckpointed: 0,
    onAutoCheckpoint: () => sync.publishSnapshots(),
  });
  const common = { ledger: name, storage, loader, blocks, cids, queue };
  const merger = new Merger({
    ...common,
    events,
    reader,
    checkpointer,
    signing: parts.signing,
    members: parts.members,
  });
  const commits = new GroupCommit({
    ...common,
    crypto,
    signer: parts.writer,
    gate: parts.members,
    events,
    reader,
    checkpointer,
    isClosed,
  });
  const snapshots = new LedgerSnapshots({
    ...sealing,
    storage,
    events,
    queue,
    writer: parts.writer,
    signing: parts.signing,
  });
  registerInternals(owner, { storage, snapshots, isClosed });
  const unhide = parts.onHidden?.(() => {
    checkpointer.flush().catch((error: unknown) => {
      if (!isClosed()) onError(error);
    });
  });
  // Merges what other handles on the storage write (storage-follower.ts).
  const unfollow = followStorage({
    ledger: name,
    storage,
    merge: (heads) =>
      isClosed()
        ? Promise.resolve()
        : merger.merge(heads, undefined, storage, true),
    onError,
  });
  const sync = new LedgerSync({
    name,
    storage,
    registry: parts.registry,
    tabLink: parts.tabLink,
    snapshots,
    loader,
    crypto,
    cids,
    events,
    outboxes,
    isClosed,
    merge: (commits, incoming, origin) =>
      merger.merge(commits, incoming, origin),
    catchUp: async () => {
      if (!isClosed())
        await merger.merge(
          await storage.getHeads(name),
          undefined,
          storage,
          true,
        );
    },
  });
  // Ops replayed on open count towards the next checkpoint.
  checkpointer.added(parts.uncheckpointed);
  let gate: SchemaGate | undefined;
  if (parts.schema) {
    const schemaGate = new SchemaGate(parts.schema, onError);
    events.onRows((rows) => schemaGate.watch(rows));
    gate = schemaGate;
  }
  return {
    life,
    queue,
    events,
    loader,
    checkpointer,
    sync,
    gate,
    writes: new LedgerWrites({
      life,
      commits,
      gate,
      crypto,
      newId: parts.newId,
      clock: () => loader.heads,
      readOnly: parts.readOnly === true,
    }),
    reads: new GatedReads({ life, loader, reader, indexes, queue, gate }),
    trust: {
      ledger: name,
      members: parts.members,
      ring: parts.ring,
      writes: commits,
      loader,
      crypto,
    },
    past: {
      isVoid: (cid) => parts.members.isVoid(cid),
      ledger: name,
      storage,
      loader,
      crypto,
      key,
      keys: (id) => parts.ring.keyFor(id),
      isClosed,
      onError,
    },
    teardown: {
      unfollow: () => {
        unfollow();
        unhide?.();
      },
      closeConnections: () => sync.closeAll(),
      queue,
      members: parts.members,
      checkpointer,
      storage,
    },
  };
}
