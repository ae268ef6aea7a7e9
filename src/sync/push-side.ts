// The push half of a session: drains the outbox to the remote in batches sized to its
// limits, whenever a local write (or synced()) asks for it, and records what the remote
// acknowledged.
import { CID } from "multiformats/cid";
import { cidString } from "../blocks/cid.js";
import type { Wakeup } from "../util/wakeup.js";
import type { DirectPusher } from "./direct-upload.js";
import type { SyncHost } from "./host.js";
import type { Outbox } from "./outbox.js";
import { sameSet } from "./outbox.js";
import type { WireCommit } from "./protocol/index.js";
import { isMissingCommit } from "./remote.js";
import type { Remote } from "./remote.js";

/** Bytes a push message costs besides its commits. */
const PUSH_OVERHEAD = 64;

export class PushSide {
  readonly #host: SyncHost;
  readonly #outbox: Outbox;
  readonly #pusher: DirectPusher;
  readonly #wake: Wakeup;
  /** Told after each push cycle, so synced() waiters can be checked. */
  readonly #onCycle: () => void;
  /** A local change not yet pushed (or a push cycle asked for). */
  #wanted = true;
  #busy = false;

  constructor(parts: {
    host: SyncHost;
    outbox: Outbox;
    pusher: DirectPusher;
    wake: Wakeup;
    onCycle: () => void;
  }) {
    this.#host = parts.host;
    this.#outbox = parts.outbox;
    this.#pusher = parts.pusher;
    this.#wake = parts.wake;
    this.#onCycle = parts.onCycle;
  }

  /** Nothing waits to be pushed and no push runs. */
  get isIdle(): boolean {
    return this.#outbox.pending === 0 && !this.#wanted && !this.#busy;
  }

  get isBusy(): boolean {
    return this.#busy;
  }

  /** Asks for a push cycle (a local write, synced(), a new session). */
  want(): void {
    this.#wanted = true;
    this.#wake.kick();
  }

  /** Pushes whenever asked until `signal` aborts; throws what ends the session. */
  async run(remote: Remote, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!this.#wanted) {
        await this.#wake.next;
        continue;
      }
      this.#wanted = false;
      this.#busy = true;
      try {
        await this.#cycle(remote);
      } catch (error) {
        // The remote lost commits it had acknowledged (a memory-only server restarted):
        // forget what it acknowledged and push everything again.
        const { pushed, remote: seen } = this.#outbox.state;
        if (isMissingCommit(error) && (pushed.length > 0 || seen.length > 0)) {
          this.#outbox.reset();
          this.#wanted = true;
          continue;
        }
        throw error;
      } finally {
        this.#busy = false;
      }
      this.#onCycle();
    }
  }

  async #cycle(remote: Remote): Promise<void> {
    const host = this.#host;
    const heads = [...host.heads()];
    const cids = await this.#outbox.unsent(host);
    if (cids.length === 0) {
      if (!sameSet(this.#outbox.state.pushed, heads))
        this.#outbox.setPushed(heads);
      return;
    }
    const { maxCommits, maxMessage } = remote.limits;
    let i = 0;
    while (i < cids.length) {
      const batch: WireCommit[] = [];
      let size = PUSH_OVERHEAD;
      while (i < cids.length && batch.length < maxCommits) {
        const cid = cids[i]!;
        const bytes = await host.readCommit(cid);
        const cost = bytes.length + cid.bytes.length + 16;
        if (batch.length > 0 && size + cost > maxMessage) break;
        batch.push({ cid, bytes });
        size += cost;
        i++;
      }
      const isLast = i === cids.length;
      const remoteHeads = await this.#pusher.push(
        remote,
        batch,
        isLast ? heads.map((h) => CID.parse(h)) : undefined,
      );
      this.#outbox.acknowledged(batch.length, remoteHeads.map(cidString));
    }
    this.#outbox.setPushed(heads);
  }
}
