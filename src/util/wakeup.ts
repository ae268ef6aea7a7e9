// One shared "something changed" signal for loops that sleep until there is work: each
// waits on `next`, and kick() wakes every loop waiting at that moment.
import { createDeferred } from "./deferred.js";

export class Wakeup {
  #next = createDeferred<void>();

  /** Settles at the next kick(). */
  get next(): Promise<void> {
    return this.#next.promise;
  }

  kick(): void {
    const woken = this.#next;
    this.#next = createDeferred();
    woken.resolve();
  }
}
