// What a Connection shows the app: its status (a discriminated union), the `status`,
// `pending` and `error` events, and the synced() promises waiting for push and pull to catch up.
import { createDeferred } from "../util/deferred.js";
import type { Deferred } from "../util/deferred.js";
import type { Transport } from "./remote.js";
import { toSyncError } from "./sync-error.js";
import type { SyncError } from "./sync-error.js";

/**
 * Where a connection stands: connecting, live (on a transport), backoff (with the error and
 * the retry time), closed — or, in a browser tab, follower: another tab of the origin leads
 * this remote, and `leader` is where that tab's connection stands ("unknown" until it says).
 */
export type ConnectionStatus =
  | { readonly kind: "connecting" }
  | {
      readonly kind: "follower";
      readonly leader: "unknown" | "connecting" | "live" | "backoff";
      /** The leader's transport while it is live. */
      readonly transport?: Transport;
    }
  | {
      readonly kind: "live";
      readonly transport: Transport;
      /**
       * The latest commit this connection brought that the ledger refused (a bad signature,
       * a writer who is not a member — docs/security.md); everything else keeps syncing.
       */
      readonly refused?: SyncError;
    }
  | {
      readonly kind: "backoff";
      readonly error: SyncError;
      /** Epoch milliseconds of the next attempt. */
      readonly retryAt: number;
    }
  | { readonly kind: "closed" };

interface Waiter {
  /** The pull that must have finished: one that started after synced() was called. */
  readonly after: number;
  readonly done: Deferred<void>;
}

export class StatusBoard {
  #status: ConnectionStatus = { kind: "connecting" };
  readonly #statusListeners = new Set<(status: ConnectionStatus) => void>();
  readonly #errorListeners = new Set<(error: SyncError) => void>();
  readonly #pendingListeners = new Set<(pending: number) => void>();
  readonly #waiters: Waiter[] = [];

  get status(): ConnectionStatus {
    return this.#status;
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  onError(listener: (error: SyncError) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  onPending(listener: (pending: number) => void): () => void {
    this.#pendingListeners.add(listener);
    return () => this.#pendingListeners.delete(listener);
  }

  /** Announces a new count of unacknowledged commits. */
  emitPending(pending: number): void {
    for (const l of this.#pendingListeners) {
      try {
        l(pending);
      } catch (error) {
        this.emitError(error);
      }
    }
  }

  /** Sets and announces a status; the same status again is no event (each backoff is). */
  setStatus(status: ConnectionStatus): void {
    if (status.kind === "live" && this.#refused && !status.refused)
      status = { ...status, refused: this.#refused };
    if (
      statusKey(status) === statusKey(this.#status) &&
      status.kind !== "backoff"
    )
      return;
    this.#status = status;
    for (const l of this.#statusListeners) {
      try {
        l(status);
      } catch (error) {
        this.emitError(error);
      }
    }
  }

  #refused: SyncError | undefined;

  /** A commit was refused: a live status says so from now on (announced again now). */
  noteRefused(error: Error): void {
    this.#refused = toSyncError(error);
    if (this.#status.kind === "live") {
      const { transport } = this.#status;
      this.#status = { kind: "connecting" };
      this.setStatus({ kind: "live", transport });
    }
  }

  /** Reports an error (as the SyncError union) to the `error` listeners. */
  emitError(error: unknown): void {
    const reported = toSyncError(error);
    for (const l of this.#errorListeners) {
      try {
        l(reported);
      } catch {
        // An error listener that throws has nowhere left to report to.
      }
    }
  }

  /** A synced() call: settles once a pull numbered `after` or later has finished. */
  wait(after: number): Promise<void> {
    const waiter: Waiter = { after, done: createDeferred() };
    this.#waiters.push(waiter);
    return waiter.done.promise;
  }

  /** Resolves the waiters a finished pull `pulled` covers, once nothing waits to be pushed. */
  check(isPushIdle: boolean, pulled: number): void {
    if (!isPushIdle) return;
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      if (pulled >= w.after) {
        this.#waiters.splice(i, 1);
        w.done.resolve();
      }
    }
  }

  /** Rejects every waiter (the connection closed, or failed in a way retrying cannot fix). */
  rejectAll(error: Error): void {
    for (const w of this.#waiters.splice(0)) w.done.reject(error);
  }
}

function statusKey(s: ConnectionStatus): string {
  switch (s.kind) {
    case "live":
      return `live:${s.transport}:${s.refused?.message ?? ""}`;
    case "follower":
      return `follower:${s.leader}:${s.transport ?? ""}`;
    default:
      return s.kind;
  }
}
