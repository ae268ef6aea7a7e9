// Time, injected: everything in the sync engine that reads the time or waits takes a Clock,
// so its tests run on a FakeClock (fake-clock.ts) with no real timer and no real waiting.
import { sleep } from "./backoff.js";

/** Cancels a timer; calling it after the timer fired (or twice) does nothing. */
export type CancelTimer = () => void;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /**
   * Calls `fn` once after `ms`. A weak timer does not keep a Node process alive (heartbeats,
   * deferred saves); a plain one does (a backoff before the next attempt).
   */
  setTimer(
    fn: () => void,
    ms: number,
    options?: { weak?: boolean },
  ): CancelTimer;
  /** Resolves after `ms`, or at once when `signal` aborts; never rejects. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms, options) {
    const timer = setTimeout(fn, ms);
    if (options?.weak) (timer as { unref?: () => void }).unref?.();
    return () => clearTimeout(timer);
  },
  sleep,
};

/** Calls `fn` every `ms` until cancelled: a chain of one-shot timers of `clock`. */
export function repeatTimer(
  clock: Clock,
  fn: () => void,
  ms: number,
  options?: { weak?: boolean },
): CancelTimer {
  let cancelled = false;
  let cancel: CancelTimer = () => undefined;
  const arm = () => {
    cancel = clock.setTimer(
      () => {
        if (cancelled) return;
        arm();
        fn();
      },
      ms,
      options,
    );
  };
  arm();
  return () => {
    cancelled = true;
    cancel();
  };
}
