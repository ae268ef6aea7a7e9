// The seam between the sync engine (Connection) and one remote ledger: a SyncServer reached
// over WebSocket or HTTP, or a plain Gateway (memory room, shared folder) behind an adapter.
// A Remote is bound to one remote ledger and lives for one session; the Connection opens a
// new one after a failure.
import type { CID } from "multiformats/cid";
import type { WireCommit } from "./protocol/index.js";

/** How a snapshot is published (docs/protocol.md, "Retention"). */
export interface PublishOptions {
  /**
   * "snapshot": the remote then lets go of the commits the snapshot covers (a SyncServer
   * drops their bytes); replicas that lack them start from the snapshot.
   */
  readonly retain?: "snapshot";
}

/**
 * The wire a session runs on: a SyncServer's "ws" or "http", or a gateway remote's scheme
 * ("memory", "file", or a third-party gateway's).
 */
export type Transport = "ws" | "http" | "memory" | "file" | (string & {});

export interface RemoteLimits {
  /** Largest push message, in bytes. */
  readonly maxMessage: number;
  /** Most commits in one push. */
  readonly maxCommits: number;
}

/**
 * Direct uploads to the server's object store, when its welcome offered them (welcome.uploadMin):
 * large commits are PUT to presigned URLs and pushed by CID (direct-upload.ts).
 */
export interface RemoteUploads {
  /** Commits of at least this many bytes may be uploaded directly. */
  readonly minBytes: number;
  /**
   * Asks for presigned PUT URLs (the `upload` request): one per commit, in order, and ""
   * for one the remote holds already.
   */
  presign(
    commits: readonly { readonly cid: CID; readonly size: number }[],
  ): Promise<string[]>;
}

/** New commits (or only new heads) the remote announced without being asked. */
export interface LiveEvent {
  readonly commits: readonly WireCommit[];
  readonly heads: readonly CID[] | undefined;
}

export interface PullOptions {
  live?: boolean;
  wait?: number;
  signal?: AbortSignal;
  /**
   * Offers to start from a snapshot: a remote that keeps them and knows none of `have` may
   * hand its newest one here (awaited) before the commits after it. Remotes without
   * snapshots never call it.
   */
  onSnapshot?: (snapshot: WireCommit) => Promise<void>;
}

export interface Remote {
  readonly transport: Transport;
  readonly limits: RemoteLimits;
  /**
   * How the remote reports changes made by others: "push" calls `onLive` (WebSocket, a
   * watched gateway), "poll" needs long-poll pulls (HTTP).
   */
  readonly live: "push" | "poll";
  /**
   * Catch-up: every commit the remote holds that is not reachable from `have` (commits the
   * client holds with all their ancestors), parents before children, handed to `onBatch`
   * in batches (each awaited before the next). Resolves with the remote's heads. `wait`
   * (poll remotes) holds the answer until something changes or `wait` ms pass.
   */
  pull(
    have: readonly CID[],
    onBatch: (
      commits: readonly WireCommit[],
      /** How many commits this pull sends in all, when the remote says (commits.total). */
      total?: number,
    ) => Promise<void>,
    options?: PullOptions,
  ): Promise<readonly CID[]>;
  /**
   * Publishes a snapshot (docs/protocol.md, "Snapshots"); resolves with the heads it covers
   * once the remote holds it. Present only on remotes that keep snapshots (a SyncServer).
   */
  publishSnapshot?(
    snapshot: WireCommit,
    options?: PublishOptions,
  ): Promise<readonly CID[]>;
  /**
   * Stores commits (parents before children, or already on the remote) and, when given,
   * checks `heads` are all held after. Resolves once durable with heads the remote has
   * after it: every commit the push named (in `commits`, `uploaded` or `heads`) that is a
   * head there. A SyncServer (protocol v2) names only those; other remotes may add the rest
   * of their head set.
   * `uploaded` (only where `uploads` is offered) names commits already uploaded directly;
   * they come before `commits`.
   */
  push(
    commits: readonly WireCommit[],
    heads: readonly CID[] | undefined,
    uploaded?: readonly CID[],
  ): Promise<readonly CID[]>;
  /** Present when the remote offers direct uploads (a SyncServer whose welcome said so). */
  readonly uploads?: RemoteUploads | undefined;
  /** Set by the Connection before the first pull. */
  onLive: ((event: LiveEvent) => void) | undefined;
  /** Settles with the error that ended the remote (a closed socket); never rejects. */
  readonly ended: Promise<Error>;
  close(): Promise<void>;
}

/**
 * A push refused because the remote lacks a commit it names: the wire's missing-commit
 * reason, or a gateway's MissingCommitError.
 */
export function isMissingCommit(error: unknown): boolean {
  const e = error as { code?: unknown; reason?: unknown } | undefined;
  return e?.code === "missing-commit" || e?.reason === "missing-commit";
}
