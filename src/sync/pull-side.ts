// The pull half of a session: the catch-up pull, the pulls synced() asks for, long-polls on
// a remote without live push, and the commits a remote pushes live. Merges apply one at a
// time, in arrival order.
import { CID } from "multiformats/cid";
import { decodeEnvelope } from "../blocks/envelope.js";
import { cidString } from "../blocks/cid.js";
import { SerialQueue } from "../util/serial-queue.js";
import type { OnProgress } from "../util/progress.js";
import type { Wakeup } from "../util/wakeup.js";
import type { SyncHost } from "./host.js";
import type { Outbox } from "./outbox.js";
import { MAX_CID_LIST } from "./protocol/index.js";
import type { LiveEvent, Remote } from "./remote.js";

export interface PullSideParts {
  /** True while a push runs: its acknowledgements are newer than a pull's answer. */
  readonly isPushing: () => boolean;
  /** The remote lost acknowledged commits: push everything again. */
  readonly pushAgain: () => void;
  /** Told after each pull, so synced() waiters can be checked. */
  readonly onPulled: () => void;
  /** Long-poll wait of poll remotes. */
  readonly pollWaitMs: number;
  /** A snapshot the remote sent was refused (the pull falls back to commits). */
  readonly onSnapshotRefused: (error: Error) => void;
  /** Catch-up progress: commits merged by a pull, of the total the remote announced. */
  readonly onProgress?: OnProgress;
  /** Commits the ledger refused one by one (the rest merged): reported, sync goes on. */
  readonly onRefused: (errors: readonly Error[]) => void;
}

/** The origin of merges, so a ledger's change events tell them from local writes. */
export class PullSide {
  readonly #host: SyncHost;
  readonly #outbox: Outbox;
  readonly #wake: Wakeup;
  readonly #parts: PullSideParts;
  #wanted = false;
  /** Incremented by request(); a pull records the value it started at. */
  #requested = 0;
  #pulled = -1;
  /** Merges (pull batches and live pushes) apply one at a time, in arrival order. */
  readonly #inbound = new SerialQueue();
  /** A snapshot of this remote was refused: later pulls ask for commits only. */
  #snapshotRefused = false;

  constructor(
    host: SyncHost,
    outbox: Outbox,
    wake: Wakeup,
    parts: PullSideParts,
  ) {
    this.#host = host;
    this.#outbox = outbox;
    this.#wake = wake;
    this.#parts = parts;
  }

  /** The number of the latest pull that finished (-1 before the first). */
  get pulled(): number {
    return this.#pulled;
  }

  /** Asks for a pull that starts after now; returns its number. */
  request(): number {
    this.#wanted = true;
    this.#wake.kick();
    return ++this.#requested;
  }

  /** Catches up, then pulls whenever asked, until `signal` aborts. */
  async run(remote: Remote, signal: AbortSignal): Promise<void> {
    // A poll remote's first long-poll is the catch-up; a push remote subscribes here.
    if (remote.live === "push") await this.#pull(remote, { live: true });
    while (!signal.aborted) {
      if (!this.#wanted) {
        await this.#wake.next;
        continue;
      }
      this.#wanted = false;
      await this.#pull(remote, {});
    }
  }

  /** Long-polls a remote that has no live push, until `signal` aborts. */
  async poll(remote: Remote, signal: AbortSignal): Promise<void> {
    const wait = this.#parts.pollWaitMs;
    while (!signal.aborted) {
      try {
        await this.#pull(remote, { wait, signal });
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
    }
  }

  /** Commits (or only heads) the remote announced; `fail` ends the session. */
  onLive(event: LiveEvent, fail: (error: Error) => void): void {
    this.#inbound
      .run(async () => {
        const host = this.#host;
        const arrived = new Set(event.commits.map((c) => cidString(c.cid)));
        const isComplete =
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
        if (isComplete) this.#refused(await host.receive(event.commits, this));
        const heads = event.heads?.map(cidString);
        if (heads && heads.every((h) => host.has(h)))
          this.#outbox.setRemote(heads);
        else {
          // A gap (commits this ledger never saw) or only news of new heads: catch up.
          this.#wanted = true;
          this.#wake.kick();
        }
      })
      .catch((error: unknown) => fail(error as Error));
  }

  #refused(errors: readonly Error[] | void): void {
    if (errors && errors.length > 0) this.#parts.onRefused(errors);
  }

  async #pull(
    remote: Remote,
    options: { live?: boolean; wait?: number; signal?: AbortSignal },
  ): Promise<void> {
    const seq = this.#requested;
    const before = this.#outbox.state;
    const host = this.#host;
    const have = new Set(host.heads());
    for (const r of before.remote) if (host.has(r)) have.add(r);
    // Every pull offers to start from a snapshot (docs/protocol.md, "Snapshots"): a server
    // sends one to a new replica, and to one that lacks history it let go. One this replica
    // refuses is reported, and the same pull is made again for every commit.
    let refused: Error | undefined;
    const offer = !this.#snapshotRefused;
    const onProgress = this.#parts.onProgress;
    let done = 0;
    const heads = await remote.pull(
      [...have].slice(0, MAX_CID_LIST).map((c) => CID.parse(c)),
      (batch, total) =>
        refused
          ? Promise.resolve()
          : this.#inbound.run(async () => {
              this.#refused(await host.receive(batch, this));
              done += batch.length;
              if (onProgress && batch.length > 0)
                onProgress({ phase: "catch-up", done, total });
            }),
      offer
        ? {
            ...options,
            onSnapshot: (snapshot) =>
              this.#inbound.run(async () => {
                try {
                  await host.adoptSnapshot(snapshot, this);
                } catch (error) {
                  if ((error as { code?: unknown }).code === "closed")
                    throw error;
                  refused = error as Error;
                }
              }),
          }
        : options,
    );
    await this.#inbound.idle();
    if (refused) {
      this.#snapshotRefused = true;
      this.#parts.onSnapshotRefused(refused);
      return this.#pull(remote, options);
    }
    const remoteHeads = heads.map(cidString);
    // Only against acknowledgements older than this pull's answer.
    if (this.#outbox.state.pushed === before.pushed && !this.#parts.isPushing())
      await this.#checkAcknowledged(remoteHeads);
    this.#outbox.setRemote(remoteHeads);
    this.#pulled = Math.max(this.#pulled, seq);
    this.#parts.onPulled();
  }

  /**
   * A remote that lost commits it had acknowledged (a memory-only server restarted, a damaged
   * log cut short) would otherwise never get them again: when every remote head is known
   * here, each commit acknowledged earlier must lie below one of them. If one does not, the
   * acknowledgements are forgotten and the outbox is pushed again.
   */
  async #checkAcknowledged(remoteHeads: readonly string[]): Promise<void> {
    const host = this.#host;
    const { pushed } = this.#outbox.state;
    if (pushed.length === 0 || !remoteHeads.every((h) => host.has(h))) return;
    const below = new Set(remoteHeads);
    const missing = new Set((await host.since(remoteHeads)).map(cidString));
    if (!pushed.some((p) => !below.has(p) && missing.has(p))) return;
    this.#outbox.reset();
    this.#parts.pushAgain();
  }
}
