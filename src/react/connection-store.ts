// The external store behind useConnection: one ledger.connect(url) shared by the components
// that ask for the same ledger, URL and options, made on the first subscription and closed a
// microtask after the last one ends (so StrictMode's unsubscribe-resubscribe keeps it).
// `pending` follows the connection's `pending` event (each write counted, each batch
// acknowledged).
import type { Ledger } from "../ledger/ledger.js";
import type { ConnectOptions } from "../ledger/sync-host.js";
import type { Connection, ConnectionStatus } from "../sync/connection.js";

/** What useConnection shows. */
export interface ConnectionState {
  readonly status: ConnectionStatus;
  /** Commits the remote has not acknowledged yet. */
  readonly pending: number;
  /** The connection's last error (a refused token, an unreachable server); cleared when live. */
  readonly error: unknown;
  /** The connection itself, while there is one. */
  readonly connection: Connection | undefined;
}

const CONNECTING: ConnectionState = {
  status: { kind: "connecting" },
  pending: 0,
  error: undefined,
  connection: undefined,
};

const CLOSED: ConnectionState = {
  ...CONNECTING,
  status: { kind: "closed" },
};

export class ConnectionStore {
  readonly #ledger: Ledger<object>;
  readonly #url: string | readonly string[];
  readonly #options: ConnectOptions;
  readonly #listeners = new Set<() => void>();
  readonly #onIdle: () => void;
  #state: ConnectionState = CONNECTING;
  #stop: (() => void) | undefined;

  constructor(
    ledger: Ledger<object>,
    url: string | readonly string[],
    options: ConnectOptions,
    onIdle: () => void,
  ) {
    this.#ledger = ledger;
    this.#url = url;
    this.#options = options;
    this.#onIdle = onIdle;
  }

  /** What makes two connections the same: the URL and the options' values. */
  static keyOf(
    url: string | readonly string[],
    options: ConnectOptions,
  ): string {
    return JSON.stringify([url, options]);
  }

  readonly getSnapshot = (): ConnectionState => this.#state;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    if (!this.#stop) this.#start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0)
        queueMicrotask(() => {
          if (this.#listeners.size > 0 || !this.#stop) return;
          this.#stop();
          this.#stop = undefined;
          this.#onIdle();
        });
    };
  };

  #start(): void {
    let connection: Connection;
    try {
      connection = this.#ledger.connect(this.#url, this.#options);
    } catch (error) {
      // A URL connect() cannot use, or a closed ledger.
      this.#set({ ...CLOSED, error });
      this.#stop = () => undefined;
      return;
    }
    const refresh = () =>
      this.#set({
        ...this.#state,
        pending: connection.pending,
        status: connection.status,
      });
    const stops = [
      connection.on("status", (status) => {
        if (status.kind === "live")
          this.#set({ ...this.#state, error: undefined });
        refresh();
      }),
      connection.on("pending", refresh),
      connection.on("error", (error) => this.#set({ ...this.#state, error })),
    ];
    this.#set({ ...this.#state, connection });
    refresh();
    this.#stop = () => {
      for (const stop of stops) stop();
      // Closing never fails for the app to see: what is not pushed stays in the outbox.
      void connection.close().catch(() => undefined);
    };
  }

  #set(state: ConnectionState): void {
    const prev = this.#state;
    if (
      state.status === prev.status &&
      state.pending === prev.pending &&
      state.error === prev.error &&
      state.connection === prev.connection
    )
      return;
    this.#state = state;
    for (const listener of [...this.#listeners]) listener();
  }
}

/** The connection stores of each ledger, by URL and options. */
export class ConnectionStores {
  readonly #byLedger = new WeakMap<
    Ledger<object>,
    Map<string, ConnectionStore>
  >();

  get(
    ledger: Ledger<object>,
    url: string | readonly string[],
    options: ConnectOptions,
  ): ConnectionStore {
    let stores = this.#byLedger.get(ledger);
    if (!stores) {
      stores = new Map();
      this.#byLedger.set(ledger, stores);
    }
    const key = ConnectionStore.keyOf(url, options);
    let store = stores.get(key);
    if (!store) {
      const held = stores;
      store = new ConnectionStore(ledger, url, options, () => {
        if (held.get(key) === store) held.delete(key);
      });
      stores.set(key, store);
    }
    return store;
  }
}
