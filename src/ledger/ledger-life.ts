// A ledger's open/closed state and the order it is torn down in: stop following storage,
// close the connections, let queued work finish, then save (close) or delete (destroy)
// what it stored, and last close the storage handle.
import type { Gateway, LocalStorage } from "../gateways/gateway.js";
import { ClosedError } from "../util/errors.js";
import type { SerialQueue } from "../util/serial-queue.js";
import type { Checkpointer } from "./checkpointer.js";
import type { LedgerMembers } from "./ledger-members.js";

/** What close() and destroy() stop, wait for, save and release, in that order. */
export interface Teardown {
  /** Stops following the storage and the page's visibility. */
  unfollow: () => void;
  closeConnections: () => Promise<void>;
  queue: SerialQueue;
  members: LedgerMembers;
  checkpointer: Checkpointer;
  storage: Gateway & { local: LocalStorage };
}

export class LedgerLife {
  #closed = false;

  constructor(readonly name: string) {}

  get closed(): boolean {
    return this.#closed;
  }

  /** Throws a ClosedError once the ledger is closed. */
  check(): void {
    if (this.#closed) throw new ClosedError(`ledger ${this.name}`);
  }

  /** Runs `fn` unless the ledger is closed (then rejects with a ClosedError). */
  async guard<R>(fn: () => Promise<R>): Promise<R> {
    this.check();
    return fn();
  }

  /** Closes the connections, finishes queued writes and writes a checkpoint. */
  async close(t: Teardown): Promise<void> {
    if (this.#closed) return;
    t.unfollow();
    await t.closeConnections();
    await t.queue.idle();
    this.#closed = true;
    try {
      await t.members.save();
      await t.checkpointer.onClose();
    } finally {
      await t.storage.close();
    }
  }

  /** Closes the ledger and deletes everything it stored locally, key included. */
  async destroy(t: Teardown): Promise<void> {
    t.unfollow();
    await t.closeConnections();
    await t.queue.idle();
    const wasClosed = this.#closed;
    this.#closed = true;
    if (wasClosed) throw new ClosedError(`ledger ${this.name}`);
    await t.storage.local.destroy(this.name);
    await t.storage.close();
  }
}
