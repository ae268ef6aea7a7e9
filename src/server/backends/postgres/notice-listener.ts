// The one connection per backend that LISTENs for ledger notices. postgres.js has a listen()
// that re-listens after a lost connection, but it gives up silently when Postgres is still
// down at that moment (seen here: a 25 s outage left it deaf for good); this owns the loop
// instead: LISTEN, and after any loss LISTEN again with backoff until it works or the backend
// closes. Notices sent while it was deaf are gone, so each LISTEN after a loss is reported
// (`onRelisten`), and the backend re-reads what its watchers watch.
import postgres from "postgres";
import { backoffDelay, sleep } from "../../../util/backoff.js";
import { databaseError } from "./postgres-error.js";

export type ListenerState =
  | { readonly kind: "connecting"; readonly attempt: number }
  | { readonly kind: "listening" }
  | {
      readonly kind: "backoff";
      readonly error: Error;
      readonly retryAt: number;
    }
  | { readonly kind: "closed" };

export interface NoticeListenerOptions {
  /** Connection options; the listener makes its own single-connection client from them. */
  readonly connection: postgres.Options<Record<string, never>>;
  readonly channel: string;
  onNotice(payload: string): void;
  /** After each LISTEN that followed a lost connection: notices may have been missed. */
  onRelisten(): void;
  /** A lost connection or a failed attempt; the listener goes on retrying. */
  onError(error: Error): void;
}

const BACKOFF = { baseMs: 100, maxMs: 5000 };

// postgres.js delivers notices to this option (it is how its own listen() works), but its
// type declarations leave it out.
type ListenOptions = postgres.Options<Record<string, never>> & {
  onnotify(channel: string, payload: string): void;
};

export class NoticeListener {
  readonly #options: NoticeListenerOptions;
  readonly #sql: postgres.Sql;
  readonly #stop = new AbortController();
  #state: ListenerState = { kind: "connecting", attempt: 0 };
  #loop: Promise<void> | undefined;

  private constructor(options: NoticeListenerOptions) {
    this.#options = options;
    const connection: ListenOptions = {
      ...options.connection,
      max: 1,
      // Never closed for idleness or age: a closed LISTEN connection misses notices.
      idle_timeout: 0,
      max_lifetime: null,
      onclose: () => this.#lost(),
      onnotify: (channel, payload) => {
        if (channel === options.channel) options.onNotice(payload);
      },
    };
    this.#sql = postgres(connection);
  }

  /** Listens once before resolving (a backend must not miss notices after it opens). */
  static async open(options: NoticeListenerOptions): Promise<NoticeListener> {
    const listener = new NoticeListener(options);
    try {
      await listener.#listen();
    } catch (error) {
      await listener.close();
      throw databaseError(`listen on ${options.channel}`, error);
    }
    listener.#state = { kind: "listening" };
    return listener;
  }

  get state(): ListenerState {
    return this.#state;
  }

  async close(): Promise<void> {
    if (this.#state.kind === "closed") return;
    this.#state = { kind: "closed" };
    this.#stop.abort();
    await this.#loop;
    await this.#sql.end({ timeout: 1 });
  }

  #listen(): Promise<unknown> {
    // The channel name is an identifier the backend built from a checked schema name.
    return this.#sql.unsafe(`LISTEN "${this.#options.channel}"`);
  }

  // Called for every connection that closes: the listening one, and also each attempt that
  // failed to connect. Only losing a listening connection starts a new loop; an attempt's
  // failure is handled by the loop that made it.
  #lost(): void {
    if (this.#state.kind !== "listening") return;
    this.#options.onError(
      databaseError(
        `listen on ${this.#options.channel}`,
        Object.assign(new Error("connection lost; listening again"), {
          code: "CONNECTION_CLOSED",
        }),
      ),
    );
    this.#loop = this.#relisten();
  }

  async #relisten(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.#stop.signal.aborted) return;
      this.#state = { kind: "connecting", attempt };
      try {
        await this.#listen();
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        const failure = databaseError(
          `listen on ${this.#options.channel}`,
          error,
        );
        const delay = backoffDelay(attempt, BACKOFF);
        this.#state = {
          kind: "backoff",
          error: failure,
          retryAt: Date.now() + delay,
        };
        this.#options.onError(failure);
        await sleep(delay, this.#stop.signal);
        continue;
      }
      if (this.#stop.signal.aborted) return;
      this.#state = { kind: "listening" };
      this.#options.onRelisten();
      return;
    }
  }
}
