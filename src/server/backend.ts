// The SyncServer's storage seam. A backend holds, per ledger, verified commit bytes with their
// parents and height, and the head set those commits make. It never sees a key. Every backend
// passes the exported conformance suite (backend-conformance.ts).
import type { CID } from "multiformats/cid";

/** A commit the server has checked against its CID, with the parents its envelope names. */
export interface StoredCommit {
  readonly cid: CID;
  readonly bytes: Uint8Array;
  readonly parents: readonly CID[];
  /**
   * The bytes were read back from this backend's own upload store (DirectUploads.read) and
   * verified: a backend that keeps bytes there records the commit without writing them again.
   */
  readonly uploaded?: boolean;
}

/**
 * Direct uploads, offered by a backend whose commit bytes live in an object store that can
 * presign PUT URLs (Postgres with an S3 bucket): clients upload large commits to the store
 * themselves, and the server reads each back and verifies it against its CID before it records
 * it (ledger-service.ts). Optional because most stores cannot do this; a backend without it
 * is never asked, and its server never offers it.
 *
 * Why a capability beside putCommits rather than a variant of it: presigning happens in a
 * request of its own, before the bytes exist anywhere the server can see, and reading them
 * back must happen before the all-or-nothing checks of a push, so the server verifies uploaded
 * commits exactly as it verifies pushed ones and the backend's put stays one atomic step.
 */
export interface DirectUploads {
  /** Smallest commit, in bytes, worth a direct upload (advertised as welcome.uploadMin). */
  readonly minBytes: number;
  /**
   * A presigned PUT URL for each commit, in order: short-lived, for the commit's
   * content-addressed key in this ledger, bound to its size and SHA-256 where the store can
   * enforce them. Signing is local: no commit is stored or recorded.
   */
  presign(
    ledger: string,
    commits: readonly { readonly cid: CID; readonly size: number }[],
  ): Promise<string[]>;
  /**
   * What was uploaded for each CID, undefined where nothing was; in the order asked. Not
   * verified: the caller checks the bytes against their CID. An object over `maxBytes` is a
   * ProtocolError("too-large"), not read whole.
   */
  read(
    ledger: string,
    cids: readonly CID[],
    maxBytes: number,
  ): Promise<(Uint8Array | undefined)[]>;
}

/** What the server keeps of a commit besides its bytes. */
export interface CommitMeta {
  readonly parents: readonly CID[];
  /** 1 + the greatest parent height; 1 for a commit without parents. */
  readonly height: number;
  /**
   * Its bytes were dropped (dropCommits: a snapshot covers it): the commit is still known —
   * a parent, a height, a step of catch-up walks — but getCommits no longer has it.
   */
  readonly dropped?: true;
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

/**
 * A snapshot as the server keeps it (docs/format.md, "Snapshots"): a ledger's merged state
 * sealed like a commit. The server cannot read it; it sees the bytes, their CID and the heads
 * it covers, which are its envelope's parents.
 */
export interface StoredSnapshot {
  readonly cid: CID;
  readonly bytes: Uint8Array;
  /** The heads it covers: its envelope's parents, in the envelope's order. */
  readonly heads: readonly CID[];
  /** The greatest height among `heads`: the server keeps the snapshot that reaches highest. */
  readonly height: number;
}

/**
 * The SyncServer's storage of commits and head sets (memory, embedded, Postgres); every
 * backend passes the exported conformance suite (`kiln/server/conformance`).
 */
export interface Backend {
  /**
   * Stores commits atomically and durably, then reports the change to watchers. The commits
   * are given parents before children; every parent is either held already or earlier in
   * the list (the caller checked, and the backend checks again: MissingParentError). Commits
   * already held are skipped. The head set gains each new commit and loses its parents.
   * Resolves once the commits and the new head set are durable. Commits marked `uploaded`
   * come only from a backend that has `uploads`.
   *
   * `quota`, when given, is the most commit bytes the ledger may hold (storedBytes): a batch
   * whose new commits would take it past that is refused as ProtocolError("over-quota") and
   * nothing of it is stored — checked atomically with the store, like the parents and the
   * head-set bound, so concurrent puts cannot pass it together.
   */
  putCommits(
    ledger: string,
    commits: readonly StoredCommit[],
    origin?: unknown,
    quota?: number,
  ): Promise<{ heads: CID[]; added: CID[] }>;
  /**
   * The bytes of the commits the ledger holds (the sum of their lengths; its snapshot is not
   * counted): what a quota bounds. 0 for an unknown or deleted ledger; lowered by whatever
   * removes commits.
   */
  storedBytes(ledger: string): Promise<number>;
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
  /**
   * Replaces the ledger's snapshot (a backend keeps one per ledger) durably. Which one is
   * kept is the caller's choice (ledger-service.ts); the backend stores what it is given.
   * The ledger's commits and heads are not touched.
   */
  putSnapshot(ledger: string, snapshot: StoredSnapshot): Promise<void>;
  /** The ledger's snapshot, or undefined when none was put. */
  getSnapshot(ledger: string): Promise<StoredSnapshot | undefined>;
  /**
   * Drops the bytes of commits a snapshot covers (`publish` with `retain: "snapshot"`),
   * durably, and keeps their meta (a husk): getCommits answers undefined for them, getMeta
   * their parents and height with `dropped: true`, and a put still finds them as parents.
   * Heads, the snapshot and other commits are untouched; CIDs not held, or already dropped,
   * are skipped. Resolves with how many commits it dropped. The storage they took is given
   * back (a log is rewritten, a row's bytes cleared, a bucket object deleted).
   */
  dropCommits(ledger: string, cids: readonly CID[]): Promise<number>;
  /**
   * Deletes everything the backend keeps of the ledger — commits, heads, snapshot, and every
   * row, file or object that names it — durably. Deleting an unknown ledger is a no-op. A
   * put racing the delete may leave what it stored (the ledger then exists again).
   */
  deleteLedger(ledger: string): Promise<void>;
  /** Calls `onChange` after every change of `ledger`'s commits, by any process. */
  watch(ledger: string, onChange: (change: LedgerChange) => void): () => void;
  /**
   * Records, durably, that the bearer token with this id (its `jti` claim) is revoked, and
   * tells every process's revocation watchers (Postgres: NOTIFY). Revoking twice is a no-op.
   */
  revokeToken(id: string): Promise<void>;
  /** Every token id revoked so far. */
  revokedTokens(): Promise<string[]>;
  /**
   * Calls `onRevoked` for each token revoked from now on, by any process sharing this
   * storage — promptly (the server closes sessions within a second). May repeat an id, and
   * may report ids revoked earlier (after a lost notice connection, say).
   */
  watchRevocations(onRevoked: (id: string) => void): () => void;
  /** Present only when the backend offers direct uploads (see DirectUploads). */
  readonly uploads?: DirectUploads;
  /** Releases connections and files; the backend is not used after. */
  close(): Promise<void>;
}
