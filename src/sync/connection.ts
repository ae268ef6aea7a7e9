// The sync engine for one remote: a Connection replicates a ledger both ways, for as long as
// it is open, whatever the network does. Local writes never wait for it. Each session opens
// a Remote, pushes what the remote lacks (the outbox), pulls what the ledger lacks, then
// follows both sides live; any failure ends the session and a new one starts after a backoff
// with jitter. Nothing here gives up for good, and every failure is observable on `status`
// and the `error` event.
import { CID } from "multiformats/cid";
import { cidString } from "../blocks/cid.js";
import { backoffDelay, DEFAULT_BACKOFF, sleep } from "../util/backoff.js";
import type { BackoffOptions } from "../util/backoff.js";
import { createDeferred } from "../util/deferred.js";
import type { Deferred } from "../util/deferred.js";
import { ClosedError } from "../util/errors.js";
import { SerialQueue } from "../util/serial-queue.js";
import { DirectPusher } from "./direct-upload.js";
import type { SyncHost } from "./host.js";
import { decodeEnvelope } from "../blocks/envelope.js";
import { MAX_CID_LIST, ProtocolError } from "./protocol/index.js";
import type { WireCommit } from "./protocol/index.js";
import type { LiveEvent, Remote, Transport } from "./remote.js";
import type { RemoteOpener } from "./remote-opener.js";
import { sameSet, SyncStateKeeper } from "./sync-state-keeper.js";

export type ConnectionStatus =
  | { readonly kind: "connecting" }
  | { readonly kind: "live"; readonly transport: Transport }
  | {
      readonly kind: "backoff";
      readonly error: Error;
      /** Epoch milliseconds of the next attempt. */
      readonly retryAt: number;
    }
  | { readonly kind: "closed" };

export interface ConnectionOptions {
  readonly backoff?: BackoffOptions;
  /** Long-poll wait of HTTP sessions. */
  readonly pollWaitMs?: number;
  /** A session that lasted this long resets the backoff. */
  readonly stableMs?: number;
}

type SessionEnd = { error: Error } | { switchTo: Remote } | { closed: true };

interface Waiter {
  readonly after: number;
  readonly done: Deferred<void>;
}

export class Connection {
  /** The URL as the app gave it to connect(). */
  readonly url: string;
  /** The remote ledger's name. */
  readonly ledger: string;
  readonly #host: SyncHost;
  readonly #remoteId: string;
  readonly #opener: RemoteOpener;
  readonly #options: ConnectionOptions;
  #status: ConnectionStatus = { kind: "connecting" };
  #pending = 0;
  readonly #sync: SyncStateKeeper;
  readonly #statusListeners = new Set<(status: ConnectionStatus) => void>();
  readonly #errorListeners = new Set<(error: Error) => void>();
  #closed = false;
  readonly #abort = new AbortController();
  #wake = createDeferred<void>();
  /** A local change not yet pushed (or a push cycle asked for). */
  #pushWanted = true;
  #pushing = false;
  #pullWanted = false;
  /** Incremented by synced(); a pull records the value it started at. */
  #requestSeq = 0;
  #pulledSeq = -1;
  readonly #waiters: Waiter[] = [];
  /** Merges (pull batches and live pushes) apply one at a time, in arrival order. */
  readonly #inbound = new SerialQueue();
  readonly #running: Promise<void>;
  #failSession: ((error: Error) => void) | undefined;
  /** Pushes batches, large commits by direct upload where the remote offers it. */
  readonly #pusher = new DirectPusher({
    onFallback: (error) => this.#emitError(error),
  });

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
    this.#sync = new SyncStateKeeper(
      {
        url: info.url,
        ledger: info.ledger,
        pushed: [],
        remote: [],
      },
      (state) => host.saveSyncState(info.remoteId, state),
      (error) => this.#emitError(error),
    );
    this.#running = this.#run();
  }

  get status(): ConnectionStatus {
    return this.#status;
  }

  /** Commits of the ledger this remote has not acknowledged yet. */
  get pending(): number {
    return this.#pending;
  }

  /** The remote's heads as last seen. */
  get remoteHeads(): readonly string[] {
    return this.#sync.state.remote;
  }

  on(event: "status", listener: (status: ConnectionStatus) => void): () => void;
  on(event: "error", listener: (error: Error) => void): () => void;
  on(
    event: "status" | "error",
    listener: ((status: ConnectionStatus) => void) | ((error: Error) => void),
  ): () => void {
    const set = (
      event === "status" ? this.#statusListeners : this.#errorListeners
    ) as Set<typeof listener>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Resolves once the remote holds every commit of the ledger and the ledger every commit
   * the remote held when this was called (a pull that started after the call finished).
   * Waits through outages; rejects only when the connection closes first.
   */
  synced(): Promise<void> {
    if (this.#closed)
      return Promise.reject(new ClosedError(`connection to ${this.url}`));
    const waiter: Waiter = {
      after: ++this.#requestSeq,
      done: createDeferred(),
    };
    this.#waiters.push(waiter);
    this.#pullWanted = true;
    this.#pushWanted = true;
    this.#kick();
    return waiter.done.promise;
  }

  /** Stops syncing. What is not pushed stays in the outbox for the next connect(). */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#abort.abort();
      this.#kick();
      const error = new ClosedError(`connection to ${this.url}`);
      for (const w of this.#waiters.splice(0)) w.done.reject(error);
    }
    await this.#running;
  }

  // ------------------------------------------------------------------ sessions

  async #run(): Promise<void> {
    const unsubscribe = this.#host.onChange((change) => {
      if (change.origin === this) return;
      this.#pending += change.commits.length;
      this.#pushWanted = true;
      this.#kick();
    });
    try {
      try {
        const saved = await this.#host.loadSyncState(this.#remoteId);
        if (saved) this.#sync.restore({ ...saved, url: this.url });
      } catch (error) {
        // A damaged sync record only costs a full re-push; say so and go on.
        this.#emitError(error as Error);
      }
      let attempt = 0;
      while (!this.#closed) {
        this.#setStatus({ kind: "connecting" });
        let remote: Remote | undefined;
        try {
          remote = await this.#opener.open(this.#abort.signal);
        } catch (error) {
          await this.#backoff(error as Error, attempt++);
          continue;
        }
        while (remote && !this.#closed) {
          const started = Date.now();
          const end = await this.#session(remote);
          const lived = Date.now() - started;
          const error = "error" in end ? end.error : undefined;
          this.#opener.sessionEnded?.(remote, lived, error);
          await remote.close();
          remote = "switchTo" in end ? end.switchTo : undefined;
          if (error) {
            if (lived >= (this.#options.stableMs ?? 10_000)) attempt = 0;
            if (!this.#closed) await this.#backoff(error, attempt++);
          }
        }
        if (remote) await remote.close();
      }
    } finally {
      unsubscribe();
      await this.#sync.close();
      await this.#opener.close().catch(() => undefined);
      this.#setStatus({ kind: "closed" });
    }
  }

  async #session(remote: Remote): Promise<SessionEnd> {
    const stop = new AbortController();
    let end: SessionEnd | undefined;
    const finish = (e: SessionEnd) => {
      end ??= e;
      stop.abort();
      this.#kick();
    };
    this.#failSession = (error) => finish({ error });
    const onClose = () => finish({ closed: true });
    this.#abort.signal.addEventListener("abort", onClose);
    if (this.#closed) onClose();
    remote.onLive = (event) => this.#onLive(event);
    const fail = (error: unknown) => finish({ error: error as Error });
    void remote.ended.then((error) => finish({ error }));
    const loops: Promise<unknown>[] = [];
    try {
      await this.#host.ready();
      this.#setStatus({ kind: "live", transport: remote.transport });
      // Push and pull run side by side. The pull's `have` includes the remote heads seen
      // last time (persisted), so the difference the remote sends is exact even while it
      // does not know the ledger's newest local commits yet.
      this.#pushWanted = true;
      loops.push(this.#pushLoop(remote, stop.signal).catch(fail));
      loops.push(this.#pullLoop(remote, stop.signal).catch(fail));
      if (remote.live === "poll")
        loops.push(this.#pollLoop(remote, stop.signal).catch(fail));
      if (this.#opener.upgrade)
        loops.push(
          this.#opener.upgrade(remote, stop.signal).then((better) => {
            // A session that ended meanwhile must not leak the new remote.
            if (better && end) void better.close();
            else if (better) finish({ switchTo: better });
          }, fail),
        );
    } catch (error) {
      fail(error);
    }
    while (!end) await this.#wake.promise;
    this.#abort.signal.removeEventListener("abort", onClose);
    this.#failSession = undefined;
    remote.onLive = undefined;
    // Ends in-flight requests, so the loops settle (a remote being switched from too).
    await remote.close();
    stop.abort();
    this.#kick();
    await Promise.allSettled(loops);
    return end;
  }

  async #backoff(error: Error, attempt: number): Promise<void> {
    const delay = backoffDelay(
      attempt,
      this.#options.backoff ?? DEFAULT_BACKOFF,
    );
    this.#setStatus({ kind: "backoff", error, retryAt: Date.now() + delay });
    this.#emitError(error);
    await sleep(delay, this.#abort.signal);
  }

  // ------------------------------------------------------------------ push

  async #pushLoop(remote: Remote, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!this.#pushWanted) {
        await this.#wake.promise;
        continue;
      }
      this.#pushWanted = false;
      this.#pushing = true;
      try {
        await this.#pushCycle(remote);
      } catch (error) {
        // The remote lost commits it had acknowledged (a memory-only server restarted):
        // forget what it acknowledged and push everything again.
        if (
          error instanceof ProtocolError &&
          error.reason === "missing-commit" &&
          (this.#sync.state.pushed.length > 0 ||
            this.#sync.state.remote.length > 0)
        ) {
          this.#sync.reset();
          this.#pushWanted = true;
          continue;
        }
        throw error;
      } finally {
        this.#pushing = false;
      }
      this.#checkWaiters();
    }
  }

  async #pushCycle(remote: Remote): Promise<void> {
    const host = this.#host;
    const heads = [...host.heads()];
    const { pushed, remote: last } = this.#sync.state;
    const boundary = [...pushed, ...last].filter((c) => host.has(c));
    const cids = await host.since(boundary);
    this.#pending = cids.length;
    if (cids.length === 0) {
      if (!sameSet(pushed, heads)) this.#sync.setPushed(heads);
      return;
    }
    const { maxCommits, maxMessage } = remote.limits;
    let i = 0;
    while (i < cids.length) {
      const batch: WireCommit[] = [];
      let size = 64;
      while (i < cids.length && batch.length < maxCommits) {
        const cid = cids[i]!;
        const bytes = await host.readCommit(cid);
        const cost = bytes.length + cid.bytes.length + 16;
        if (batch.length > 0 && size + cost > maxMessage) break;
        batch.push({ cid, bytes });
        size += cost;
        i++;
      }
      const last = i === cids.length;
      const remoteHeads = await this.#pusher.push(
        remote,
        batch,
        last ? heads.map((h) => CID.parse(h)) : undefined,
      );
      this.#pending = Math.max(0, this.#pending - batch.length);
      this.#sync.setRemote(remoteHeads.map(cidString));
    }
    this.#sync.setPushed(heads);
  }

  // ------------------------------------------------------------------ pull

  async #pullLoop(remote: Remote, signal: AbortSignal): Promise<void> {
    // A poll remote's first long-poll is the catch-up; a push remote subscribes here.
    if (remote.live === "push") await this.#pull(remote, { live: true });
    while (!signal.aborted) {
      if (!this.#pullWanted) {
        await this.#wake.promise;
        continue;
      }
      this.#pullWanted = false;
      await this.#pull(remote, {});
    }
  }

  async #pollLoop(remote: Remote, signal: AbortSignal): Promise<void> {
    const wait = this.#options.pollWaitMs ?? 25_000;
    while (!signal.aborted) {
      try {
        await this.#pull(remote, { wait, signal });
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
    }
  }

  async #pull(
    remote: Remote,
    options: { live?: boolean; wait?: number; signal?: AbortSignal },
  ): Promise<void> {
    const seq = this.#requestSeq;
    const stateBefore = this.#sync.state;
    const host = this.#host;
    const have = new Set(host.heads());
    for (const r of stateBefore.remote) if (host.has(r)) have.add(r);
    const heads = await remote.pull(
      [...have].slice(0, MAX_CID_LIST).map((c) => CID.parse(c)),
      (batch) => this.#inbound.run(() => host.receive(batch, this)),
      options,
    );
    await this.#inbound.idle();
    const remoteHeads = heads.map(cidString);
    // Only against acknowledgements older than this pull's answer.
    if (this.#sync.state.pushed === stateBefore.pushed && !this.#pushing)
      await this.#checkAcknowledged(remoteHeads);
    this.#setRemoteHeads(remoteHeads);
    this.#pulledSeq = Math.max(this.#pulledSeq, seq);
    this.#checkWaiters();
  }

  #onLive(event: LiveEvent): void {
    this.#inbound
      .run(async () => {
        const host = this.#host;
        const arrived = new Set(event.commits.map((c) => cidString(c.cid)));
        const complete =
          event.commits.length > 0 &&
          event.commits.every((c) =>
            // Only the parents here: receive() verifies and decrypts.
            decodeEnvelope(c.bytes, `commit ${cidString(c.cid)}`).parents.every(
              (p) => {
                const k = cidString(p);
                return arrived.has(k) || host.has(k);
              },
            ),
          );
        if (complete) await host.receive(event.commits, this);
        const heads = event.heads?.map(cidString);
        if (heads && heads.every((h) => host.has(h)))
          this.#setRemoteHeads(heads);
        else {
          // A gap (commits this ledger never saw) or only news of new heads: catch up.
          this.#pullWanted = true;
          this.#kick();
        }
      })
      .catch((error: unknown) => this.#failSession?.(error as Error));
  }

  /**
   * A remote that lost commits it had acknowledged (a memory-only server restarted, a damaged
   * log cut short) would otherwise never get them again: when every remote head is known
   * here, each commit acknowledged earlier must lie below one of them. If one does not, the
   * acknowledgements are forgotten and the outbox is pushed again.
   */
  async #checkAcknowledged(remoteHeads: readonly string[]): Promise<void> {
    const host = this.#host;
    const { pushed } = this.#sync.state;
    if (pushed.length === 0 || !remoteHeads.every((h) => host.has(h))) return;
    const below = new Set(remoteHeads);
    const missing = new Set((await host.since(remoteHeads)).map(cidString));
    if (!pushed.some((p) => !below.has(p) && missing.has(p))) return;
    this.#sync.reset();
    this.#pushWanted = true;
    this.#kick();
  }

  #setRemoteHeads(heads: readonly string[]): void {
    this.#sync.setRemote(heads);
  }

  // ------------------------------------------------------------------ plumbing

  #checkWaiters(): void {
    if (this.#pending > 0 || this.#pushWanted || this.#pushing) return;
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      if (this.#pulledSeq >= w.after) {
        this.#waiters.splice(i, 1);
        w.done.resolve();
      }
    }
  }

  #kick(): void {
    const wake = this.#wake;
    this.#wake = createDeferred();
    wake.resolve();
  }

  #setStatus(status: ConnectionStatus): void {
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
        this.#emitError(error as Error);
      }
    }
  }

  #emitError(error: Error): void {
    for (const l of this.#errorListeners) {
      try {
        l(error);
      } catch {
        // An error listener that throws has nowhere left to report to.
      }
    }
  }
}

function statusKey(s: ConnectionStatus): string {
  return s.kind === "live" ? `live:${s.transport}` : s.kind;
}
