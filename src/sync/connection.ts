// The sync engine for one remote: a Connection replicates a ledger with a remote for as long
// as it is open, whatever the network does. Local writes never wait for it. Each session
// opens a Remote, pushes what the remote lacks (the outbox, push-side.ts), pulls what the
// ledger lacks (pull-side.ts), then follows both sides live (session.ts); any failure ends
// the session and a new one starts after a backoff with jitter. Nothing here gives up for
// good, and every failure is observable on `status` and the `error` event (status-board.ts).
// Time comes from an injected Clock, so all of this runs on fake time in its tests.
import { backoffDelay, DEFAULT_BACKOFF } from "../util/backoff.js";
import type { BackoffOptions } from "../util/backoff.js";
import { realClock } from "../util/clock.js";
import type { Clock } from "../util/clock.js";
import { ClosedError, InvalidArgumentError } from "../util/errors.js";
import type { OnProgress } from "../util/progress.js";
import { Wakeup } from "../util/wakeup.js";
import { DirectPusher } from "./direct-upload.js";
import type { SyncHost } from "./host.js";
import { Outbox } from "./outbox.js";
import { PullSide } from "./pull-side.js";
import { PushSide } from "./push-side.js";
import { isMissingCommit } from "./remote.js";
import type { PublishOptions, Remote } from "./remote.js";
import type { RemoteOpener } from "./remote-opener.js";
import { runSession } from "./session.js";
import { StatusBoard } from "./status-board.js";
import { followerStatus, leaderReport } from "./tab-link.js";
import type { TabLink } from "./tab-link.js";
import type { ConnectionStatus } from "./status-board.js";
import { isUnfixable, toSyncError } from "./sync-error.js";
import { isGoingAway } from "./transport-error.js";
import type { SyncError } from "./sync-error.js";

/** A session must last this long for a second 1001 in a row to reconnect without backoff. */
const GOING_AWAY_MIN_MS = 1_000;

export type { ConnectionStatus, SyncError };

/** Which way a connection replicates: both (default), only up, or only down. */
export type SyncDirection = "push" | "pull" | "both";

export interface ConnectionOptions {
  readonly backoff?: BackoffOptions;
  /** Long-poll wait of HTTP sessions. */
  readonly pollWaitMs?: number;
  /** A session that lasted this long resets the backoff. */
  readonly stableMs?: number;
  /** Time (default: the real one). */
  readonly clock?: Clock;
  /** The jitter's source, in [0, 1) (default Math.random). */
  readonly random?: () => number;
  /**
   * "push": local writes go up, nothing of others' comes down (writers that never read
   * others' data); "pull": the reverse; "both" (default).
   */
  readonly direction?: SyncDirection;
  /** Catch-up progress (see ConnectOptions.onProgress). */
  readonly onProgress?: OnProgress;
  /**
   * Shares the remote among the tabs of an origin (browsers): the session runs only while
   * this tab leads; until then the status is `follower` (tab-link.ts).
   */
  readonly tabs?: TabLink;
}

/**
 * Replicates a ledger with one remote for as long as it is open (made by `ledger.connect()`).
 * Its status, pending count and events show what sync is doing; it never gives up.
 */
export class Connection {
  /** The URL as the app gave it to connect(). */
  readonly url: string;
  /** The remote ledger's name. */
  readonly ledger: string;
  readonly #host: SyncHost;
  readonly #remoteId: string;
  readonly #opener: RemoteOpener;
  readonly #options: ConnectionOptions;
  readonly #clock: Clock;
  readonly #board = new StatusBoard();
  readonly #wake = new Wakeup();
  readonly #outbox: Outbox;
  /** Absent when the connection only pulls. */
  readonly #push: PushSide | undefined;
  /** Absent when the connection only pushes. */
  readonly #pull: PullSide | undefined;
  readonly #abort = new AbortController();
  #closed = false;
  /** Another tab leads this remote: this one neither pushes nor pulls (options.tabs). */
  #following = false;
  /** The leader's count while following. */
  #leaderPending = 0;
  /** The remote of the session running now, if one is. */
  #remote: Remote | undefined;
  readonly #running: Promise<void>;

  /** @internal Connections are made by ledger.connect(). */
  constructor(
    host: SyncHost,
    info: { url: string; ledger: string; remoteId: string },
    opener: RemoteOpener,
    options: ConnectionOptions = {},
  ) {
    this.#host = host;
    this.url = info.url;
    this.ledger = info.ledger;
    this.#remoteId = info.remoteId;
    this.#opener = opener;
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    const onError = (error: Error) => this.#board.emitError(error);
    const direction = options.direction ?? "both";
    this.#outbox = new Outbox(
      { url: info.url, ledger: info.ledger, pushed: [], remote: [] },
      {
        records: host.outboxes,
        remoteId: info.remoteId,
        onError,
        onPending: (pending) => this.#board.emitPending(pending),
        clock: this.#clock,
      },
    );
    const check = () => this.#checkWaiters();
    const push =
      direction === "pull"
        ? undefined
        : new PushSide({
            host,
            outbox: this.#outbox,
            // Pushes batches, large commits by direct upload where the remote offers it.
            pusher: new DirectPusher({ onFallback: onError }),
            wake: this.#wake,
            onCycle: check,
          });
    this.#push = push;
    this.#pull =
      direction === "push"
        ? undefined
        : new PullSide(host, this.#outbox, this.#wake, {
            isPushing: () => push?.isBusy ?? false,
            pushAgain: () => push?.want(),
            onPulled: check,
            pollWaitMs: options.pollWaitMs ?? 25_000,
            ...(options.onProgress ? { onProgress: options.onProgress } : {}),
            onSnapshotRefused: onError,
            onRefused: (errors) => {
              for (const e of errors) onError(e);
              this.#board.noteRefused(errors.at(-1)!);
            },
          });
    this.#running = this.#run();
  }

  get status(): ConnectionStatus {
    return this.#board.status;
  }

  /** Commits of the ledger this remote has not acknowledged yet. */
  get pending(): number {
    return this.#following ? this.#leaderPending : this.#outbox.pending;
  }

  /** The remote's heads as last seen. */
  get remoteHeads(): readonly string[] {
    return this.#outbox.state.remote;
  }

  /** Listens for status changes; returns the unsubscribe. */
  on(event: "status", listener: (status: ConnectionStatus) => void): () => void;
  /** Every failure, as the SyncError union (`error.code` tells which; no cast needed). */
  on(event: "error", listener: (error: SyncError) => void): () => void;
  /**
   * Every change of `pending`: a local write counted, a push cycle's recount, a batch
   * acknowledged (the new count is passed).
   */
  on(event: "pending", listener: (pending: number) => void): () => void;
  on(
    event: "status" | "error" | "pending",
    listener:
      | ((status: ConnectionStatus) => void)
      | ((error: SyncError) => void)
      | ((pending: number) => void),
  ): () => void {
    switch (event) {
      case "status":
        return this.#board.onStatus(
          listener as (status: ConnectionStatus) => void,
        );
      case "error":
        return this.#board.onError(listener as (error: SyncError) => void);
      case "pending":
        return this.#board.onPending(listener as (pending: number) => void);
    }
  }

  /**
   * Resolves once the remote holds every commit of the ledger and the ledger every commit
   * the remote held when this was called (a pull that started after the call finished; only
   * the half the connection's direction runs). Waits through outages. Rejects when the
   * connection closes first, and with the error as soon as a failure is one retrying
   * cannot fix (the token refused or without the right, commits under another key).
   */
  synced(): Promise<void> {
    if (this.#closed)
      return Promise.reject(new ClosedError(`connection to ${this.url}`));
    const tabs = this.#options.tabs;
    if (this.#following && tabs)
      // The leading tab syncs (after merging what this tab stored), then this tab merges
      // what the leader pulled into the shared storage.
      return tabs
        .requestSync()
        .then((outcome) =>
          outcome === "lead" ? this.synced() : this.#host.catchUp?.(),
        );
    const status = this.#board.status;
    if (status.kind === "backoff" && isUnfixable(status.error))
      return Promise.reject(status.error);
    const done = this.#board.wait(this.#pull?.request() ?? 0);
    this.#push?.want();
    this.#checkWaiters();
    return done;
  }

  /** True while a session runs on a remote that keeps snapshots (a SyncServer). */
  get keepsSnapshots(): boolean {
    return this.#remote?.publishSnapshot !== undefined;
  }

  /**
   * Publishes the ledger's state as a snapshot to this remote (docs/protocol.md,
   * "Snapshots"), once the remote holds every commit it covers (it waits for synced() first).
   * Resolves with the snapshot's CID and the heads it covers. Rejects when the remote keeps
   * no snapshots (only a SyncServer does), or with the remote's refusal. With
   * `retain: "snapshot"` (a write token's right) the remote then lets go of the commits the
   * snapshot covers: replicas that lack them start from the snapshot (docs/protocol.md,
   * "Retention").
   */
  async publishSnapshot(
    options: PublishOptions = {},
  ): Promise<{ cid: string; heads: string[] }> {
    if (this.#following)
      throw new InvalidArgumentError(
        `publishSnapshot: another tab leads the connection to ${this.url}; publish there`,
      );
    if (options.retain !== undefined && options.retain !== "snapshot")
      throw new InvalidArgumentError(
        `publishSnapshot: retain must be "snapshot", not ${JSON.stringify(options.retain)}`,
      );
    for (let attempt = 1; ; attempt++) {
      await this.synced();
      const remote = this.#remote;
      if (!remote) continue; // the session ended just now: wait for the next
      if (!remote.publishSnapshot)
        throw new InvalidArgumentError(
          `publishSnapshot: ${this.url} keeps no snapshots (only a SyncServer does)`,
        );
      const snapshot = await this.#host.sealSnapshot();
      try {
        const heads = await remote.publishSnapshot(snapshot, options);
        return { cid: snapshot.cid.toString(), heads: heads.map(String) };
      } catch (error) {
        // A local write landed between synced() and the seal: sync it and seal again.
        if (!isMissingCommit(error) || attempt >= 3) throw error;
      }
    }
  }

  /** Stops syncing. What is not pushed stays in the outbox for the next connect(). */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#abort.abort();
      this.#wake.kick();
      this.#board.rejectAll(new ClosedError(`connection to ${this.url}`));
    }
    await this.#running;
  }

  async #run(): Promise<void> {
    const tabs = this.#options.tabs;
    let handOn: (() => void) | undefined;
    if (tabs) {
      handOn = await this.#follow(tabs);
      if (!handOn) {
        tabs.close();
        this.#board.setStatus({ kind: "closed" });
        return;
      }
    }
    try {
      await this.#lead();
    } finally {
      // Only now, with the outbox saved, may the next tab take over.
      handOn?.();
      tabs?.close();
      this.#board.setStatus({ kind: "closed" });
    }
  }

  /**
   * Follows the leading tab until this one leads; resolves with the hand-on function, or
   * undefined when the connection closed first.
   */
  async #follow(tabs: TabLink): Promise<(() => void) | undefined> {
    this.#following = true;
    this.#board.setStatus({ kind: "follower", leader: "unknown" });
    const stop = tabs.onReport((report) => {
      this.#board.setStatus(followerStatus(report));
      if (report.pending !== this.#leaderPending) {
        this.#leaderPending = report.pending;
        this.#board.emitPending(report.pending);
      }
    });
    try {
      return await tabs.lead(this.#abort.signal);
    } catch (error) {
      if (this.#closed) return undefined;
      throw error;
    } finally {
      stop();
      this.#following = false;
      this.#leaderPending = 0;
    }
  }

  /** Runs sessions until closed: the connection's work in the tab that leads it. */
  async #lead(): Promise<void> {
    const tabs = this.#options.tabs;
    if (tabs) {
      const report = () => {
        const report = leaderReport(this.#board.status, this.#outbox.pending);
        if (report) tabs.report(report);
      };
      this.#board.onStatus(report);
      this.#board.onPending(report);
      tabs.serveSync(async () => {
        await this.#host.catchUp?.();
        await this.synced();
      });
      // The last leader's outbox record names heads this tab may not have merged yet: an
      // unknown head would lower the push boundary and push again what the server holds.
      await this.#host
        .catchUp?.()
        .catch((error: unknown) => this.#board.emitError(error));
    }
    const unsubscribe = this.#host.onChange((change) => {
      // What the pull side merged is the remote's already; a push-only connection has no
      // pull side, and every change it sees is a local write.
      if (!this.#push || (this.#pull && change.origin === this.#pull)) return;
      this.#outbox.added(change.commits.length);
      this.#push.want();
    });
    try {
      await this.#outbox.load();
      let attempt = 0;
      /** The last session ended with 1001 and was reconnected without a backoff. */
      let wentAway = false;
      while (!this.#closed) {
        this.#board.setStatus({ kind: "connecting" });
        let remote: Remote | undefined;
        try {
          remote = await this.#opener.open(this.#abort.signal);
        } catch (error) {
          await this.#backoff(error as Error, attempt++);
          continue;
        }
        while (remote && !this.#closed) {
          const started = this.#clock.now();
          this.#remote = remote;
          const end = await runSession(remote, {
            host: this.#host,
            push: this.#push,
            pull: this.#pull,
            board: this.#board,
            wake: this.#wake,
            closing: this.#abort.signal,
            upgrade: this.#opener.upgrade?.bind(this.#opener),
          });
          this.#remote = undefined;
          const lived = this.#clock.now() - started;
          const error = "error" in end ? end.error : undefined;
          this.#opener.sessionEnded?.(remote, lived, error);
          remote = "switchTo" in end ? end.switchTo : undefined;
          // A server shutting down (1001) is left at once: the next connect reaches another
          // process. Only a session that went away within a second of one that went away
          // before backs off, so a server that accepts and closes again cannot spin us.
          const goingAway = error !== undefined && isGoingAway(error);
          const reconnectNow =
            goingAway && (!wentAway || lived >= GOING_AWAY_MIN_MS);
          if (error && !reconnectNow) {
            if (lived >= (this.#options.stableMs ?? 10_000)) attempt = 0;
            if (!this.#closed) await this.#backoff(error, attempt++);
          }
          wentAway = goingAway;
        }
        if (remote) await remote.close();
      }
    } finally {
      unsubscribe();
      await this.#outbox.close();
      await this.#opener.close().catch(() => undefined);
    }
  }

  async #backoff(failure: Error, attempt: number): Promise<void> {
    const error = toSyncError(failure);
    const delay = backoffDelay(
      attempt,
      this.#options.backoff ?? DEFAULT_BACKOFF,
      this.#options.random,
    );
    this.#board.setStatus({
      kind: "backoff",
      error,
      retryAt: this.#clock.now() + delay,
    });
    this.#board.emitError(error);
    if (isUnfixable(error)) this.#board.rejectAll(error);
    await this.#clock.sleep(delay, this.#abort.signal);
  }

  #checkWaiters(): void {
    this.#board.check(
      this.#push?.isIdle ?? true,
      this.#pull ? this.#pull.pulled : Infinity,
    );
  }
}
