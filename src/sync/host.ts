// What the sync engine needs of a ledger. The ledger implements it (ledger/ sits above
// sync/), so the engine never touches the CRDT or the key.
import type { CID } from "multiformats/cid";
import type { WireCommit } from "./protocol/index.js";
import type { OutboxRecords } from "./outbox.js";

/** Commits that changed the ledger's heads: a local write, or commits merged from a remote. */
export interface HostChange {
  readonly commits: readonly string[];
  /** The Connection that received them, or undefined for a local write. */
  readonly origin: unknown;
}

export interface SyncHost {
  readonly name: string;
  /** Loads whatever the ledger loads lazily; call before heads/has/since. */
  ready(): Promise<void>;
  heads(): readonly string[];
  /** True when the commit is merged into the ledger (with all its ancestors). */
  has(cid: string): boolean;
  /**
   * The commits not reachable from the known CIDs of `boundary` (unknown ones are ignored),
   * parents before children.
   */
  since(boundary: readonly string[]): Promise<CID[]>;
  /** The stored bytes of a merged commit. */
  readCommit(cid: CID): Promise<Uint8Array>;
  /**
   * Verifies commits against their CIDs, decrypts and merges them (their ancestors must be
   * merged or among them), and stores them with the new heads. Throws IntegrityError,
   * DecryptError or CorruptError and changes nothing when any commit is bad. Resolves with
   * the commits it refused one by one (a bad signature, a writer who is not a member): the
   * rest is merged, and the refusals are reported, not thrown.
   */
  receive(
    commits: readonly WireCommit[],
    origin: unknown,
  ): Promise<readonly Error[] | void>;
  onChange(listener: (change: HostChange) => void): () => void;
  /** Seals the ledger's merged state at its current heads as a snapshot. */
  sealSnapshot(): Promise<WireCommit>;
  /**
   * Checks a snapshot a remote sent and adopts it into an empty ledger (ledger-snapshots.ts);
   * throws, changing nothing, for one that does not verify, decrypt or agree.
   */
  adoptSnapshot(snapshot: WireCommit, origin: unknown): Promise<unknown>;
  /**
   * Merges what other handles on the ledger's storage stored (other tabs of the origin):
   * a following tab calls it after the leading tab synced.
   */
  catchUp?(): Promise<void>;
  /** Where each remote's outbox record is kept. */
  readonly outboxes: OutboxRecords;
}
