// live(): a query's result delivered at once, then again whenever it changes — after local
// writes and merged remote writes alike. Runs never overlap; a change during a run causes
// one more run, and a result equal to the last delivered one is not delivered again.
import { ClosedError } from "../util/errors.js";
import type { QueryRow } from "./query.js";

export function startLiveQuery(options: {
  query: () => Promise<{ rows: QueryRow[] }>;
  /** Calls its listener after every write and merge; returns the unsubscribe. */
  subscribe: (listener: () => void) => () => void;
  onResult: (result: { rows: QueryRow[] }) => void;
  onError: (error: unknown) => void;
}): { stop(): void } {
  let stopped = false;
  let running = false;
  let again = false;
  let last: string | undefined;
  const run = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        const result = await options.query();
        const fingerprint = JSON.stringify(result.rows);
        if (!stopped && fingerprint !== last) {
          last = fingerprint;
          options.onResult(result);
        }
      } while (again && !stopped);
    } catch (error) {
      if (!stopped && !(error instanceof ClosedError)) options.onError(error);
    } finally {
      running = false;
    }
  };
  const unsubscribe = options.subscribe(() => void run());
  void run();
  return {
    stop: () => {
      stopped = true;
      unsubscribe();
    },
  };
}
