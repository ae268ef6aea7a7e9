// A Clock for tests: time stands still until the test moves it, and moving it runs the
// timers that fall due, in order, letting the promise callbacks they start settle between
// them. Nothing waits for real time (settle() yields to the event loop, it does not wait).
import type { CancelTimer, Clock } from "./clock.js";

interface FakeTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): CancelTimer {
    const timer: FakeTimer = {
      at: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      fn,
    };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        cancel();
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const cancel = this.setTimer(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Timers set and not yet fired or cancelled. */
  get timers(): number {
    return this.#timers.length;
  }

  /** Milliseconds until the next timer, or undefined when none is set. */
  get nextIn(): number | undefined {
    const next = this.#next();
    return next && next.at - this.#now;
  }

  /** Lets every promise callback already started run (one turn of the event loop). */
  async settle(): Promise<void> {
    // Microtasks all drain before the next macrotask, those they queue included.
    for (let i = 0; i < 3; i++)
      await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Moves time forward by `ms`, firing each timer that falls due at its own time. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await this.settle();
    for (;;) {
      const next = this.#next();
      if (!next || next.at > target) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
      await this.settle();
    }
    this.#now = target;
    await this.settle();
  }

  /**
   * Advances in steps until `condition` holds, failing after `limitMs` of fake time:
   * the fake-time twin of waiting on an event with a timeout.
   */
  async until(
    condition: () => boolean,
    limitMs = 600_000,
    stepMs = 10,
  ): Promise<void> {
    const end = this.#now + limitMs;
    await this.settle();
    while (!condition()) {
      if (this.#now >= end)
        throw new Error(`fake clock: condition not met in ${limitMs} ms`);
      await this.advance(stepMs);
    }
  }

  #next(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers)
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq))
        best = t;
    return best;
  }
}
