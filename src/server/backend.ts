// The SyncServer's storage seam. A backend holds, per ledger, verified commit bytes with their
// parents and height, and the head set those commits make. It never sees a key. Every backend
// passes the exported conformance suite (backend-conformance.ts).
import type { CID } from "multiformats/cid";

/** A commit the server has checked against its CID, with the parents its envelope names. */
export interface StoredCommit {
  readonly cid: CID;
  readonly bytes: Uint8Array;
  readonly parents: readonly CID[];
}

/** What the server keeps of a commit besides its bytes. */
export interface CommitMeta {
  readonly parents: readonly CID[];
  /** 1 + the greatest parent height; 1 for a commit without parents. */
  readonly height: number;
}

/** A change of one ledger's commits, reported to watchers in every server process. */
export interface LedgerChange {
  /** The head set after the change. */
  readonly heads: readonly CID[];
  /** Commits new to the backend, parents before children. */
  readonly added: readonly CID[];
  /** The added commits' bytes, when the change was made in this process (saves a read). */
  readonly commits?: readonly StoredCommit[];
  /** The `origin` passed to putCommits, when the change was made in this process. */
  readonly origin?: unknown;
}

export interface Backend {
  /**
   * Stores commits atomically and durably, then reports the change to watchers. The commits
   * are given parents before children; every parent is either held already or earlier in
   * the list (the caller checked, and the backend checks again: MissingParentError). Commits
   * already held are skipped. The head set gains each new commit and loses its parents.
   * Resolves once the commits and the new head set are durable.
   */
  putCommits(
    ledger: string,
    commits: readonly StoredCommit[],
    origin?: unknown,
  ): Promise<{ heads: CID[]; added: CID[] }>;
  /** Bytes of each CID, undefined where not held; in the order asked. */
  getCommits(
    ledger: string,
    cids: readonly CID[],
  ): Promise<(Uint8Array | undefined)[]>;
  /** Meta of each CID, undefined where not held; in the order asked. */
  getMeta(
    ledger: string,
    cids: readonly CID[],
  ): Promise<(CommitMeta | undefined)[]>;
  /** The ledger's head set, sorted by CID string; empty for an unknown ledger. */
  getHeads(ledger: string): Promise<CID[]>;
  /** Calls `onChange` after every change of `ledger`'s commits, by any process. */
  watch(ledger: string, onChange: (change: LedgerChange) => void): () => void;
  close(): Promise<void>;
}
