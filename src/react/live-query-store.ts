// The external store behind useLiveQuery: a ledger.live() query running while a component
// subscribes. live() delivers a result only when its rows changed, so a write that leaves the
// result as it was re-renders nothing; a failing query shows as `error`.
import type { DocFields } from "../ledger/doc.js";
import type { Ledger } from "../ledger/ledger.js";
import type { MapFn, QueryOptions, QueryRow } from "../ledger/query.js";
import { isSameValue } from "./same-value.js";

/** What useLiveQuery shows: the rows (empty while loading) and the query's last error. */
export interface LiveQueryState<T extends object = DocFields> {
  readonly rows: readonly QueryRow<T>[];
  /** True until the first result arrived (and while there is no ledger yet). */
  readonly loading: boolean;
  /** The query's last failure; cleared by the next result. */
  readonly error: unknown;
}

const LOADING = {
  rows: [],
  loading: true,
  error: undefined,
};

export class LiveQueryStore<T extends object> {
  readonly #ledger: Ledger<T> | undefined;
  readonly #index: string | MapFn<T>;
  readonly #options: QueryOptions;
  readonly #listeners = new Set<() => void>();
  #state: LiveQueryState<T> = LOADING;
  #live: { stop(): void } | undefined;

  constructor(
    ledger: Ledger<T> | undefined,
    index: string | MapFn<T>,
    options: QueryOptions,
  ) {
    this.#ledger = ledger;
    this.#index = index;
    this.#options = options;
  }

  /**
   * What makes two queries the same: the index (a map function by its source text, as the
   * ledger knows it) and the options' values.
   */
  static keyOf(index: string | MapFn<never>, options: QueryOptions): string {
    return JSON.stringify([
      typeof index === "string" ? index : `map:${index.toString()}`,
      options,
    ]);
  }

  readonly getSnapshot = (): LiveQueryState<T> => this.#state;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1 && this.#ledger)
      this.#live = this.#ledger.live(
        this.#index,
        this.#options,
        (result) =>
          this.#set({ rows: result.rows, loading: false, error: undefined }),
        (error) => this.#set({ ...this.#state, loading: false, error }),
      );
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        this.#live?.stop();
        this.#live = undefined;
      }
    };
  };

  /** Replaces the snapshot (and tells listeners) only when what it shows differs. */
  #set(state: LiveQueryState<T>): void {
    const prev = this.#state;
    if (
      state.loading === prev.loading &&
      state.error === prev.error &&
      isSameValue(state.rows, prev.rows)
    )
      return;
    this.#state = state;
    for (const listener of [...this.#listeners]) listener();
  }
}
