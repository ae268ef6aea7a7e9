// One WebSocket per SyncServer, however many ledgers of the process sync with it. Ledgers
// that connect to the same server (the same ws URL) get channels on one shared socket; the
// socket says hello with the union of their tokens (the server grants their union, and a
// new hello replaces the grants), and closes when its last channel closes. Each ledger keeps
// its own Connection: its own status, outbox and synced().
//
// A token the server refuses ends the hello — and the server closes the socket after an
// unauthorized hello, which would end every ledger on it. So a token first refused in a
// shared hello is kept on a socket of its own from then on: one bad token cannot keep
// taking down the other ledgers' session.
import { ProtocolError } from "./protocol/index.js";
import type { Remote } from "./remote.js";
import type { ServerEndpoint } from "./server-endpoint.js";
import type { SocketLoader } from "./socket.js";
import { createWsChannel } from "./ws-channel.js";
import type { WsChannel } from "./ws-channel.js";
import { DEFAULT_WS_OPTIONS, WsSocket } from "./ws-socket.js";
import type { WsOptions } from "./ws-socket.js";

interface Entry {
  readonly key: string;
  readonly socket: Promise<WsSocket>;
  readonly channels: Set<WsChannel>;
  /** Every token a channel brought; the socket's hello carries them all. */
  readonly tokens: Set<string>;
  /** Hellos run one at a time. */
  helloing: Promise<void>;
}

export class WsPool {
  readonly #entries = new Map<string, Entry>();
  /** Tokens refused in a hello: each gets a socket of its own. */
  readonly #refused = new Set<string>();

  /** Sockets open or opening (for tests and stats). */
  get sockets(): number {
    return this.#entries.size;
  }

  /** A channel for the endpoint's ledger on the shared socket to its server. */
  async open(
    endpoint: ServerEndpoint,
    loadSocket: SocketLoader,
    options: WsOptions = DEFAULT_WS_OPTIONS,
    signal?: AbortSignal,
  ): Promise<Remote> {
    // A refusal of someone else's token in a shared hello is not this ledger's error:
    // it tries again, on a socket without that token.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#open(endpoint, loadSocket, options, signal);
      } catch (error) {
        const token = endpoint.token;
        const isMine =
          !(error instanceof ProtocolError) ||
          error.reason !== "unauthorized" ||
          token === undefined ||
          this.#refused.has(token);
        if (isMine || attempt >= 2 || signal?.aborted) throw error;
      }
    }
  }

  async #open(
    endpoint: ServerEndpoint,
    loadSocket: SocketLoader,
    options: WsOptions,
    signal: AbortSignal | undefined,
  ): Promise<Remote> {
    const token = endpoint.token;
    const key =
      token !== undefined && this.#refused.has(token)
        ? `${endpoint.wsUrl}\n${token}`
        : endpoint.wsUrl;
    let entry = this.#entries.get(key);
    if (!entry) {
      const created: Entry = {
        key,
        channels: new Set(),
        tokens: new Set(token === undefined ? [] : [token]),
        helloing: Promise.resolve(),
        socket: WsSocket.open(
          loadSocket,
          endpoint.wsUrl,
          endpoint.shownUrl,
          token === undefined ? [] : [token],
          {
            onLive: (ledger, event) => {
              for (const c of created.channels)
                if (c.ledger === ledger) c.deliver(event);
            },
            onLedgerError: (ledger, error) => {
              for (const c of [...created.channels])
                if (c.ledger === ledger) c.end(error);
            },
          },
          options,
        ),
      };
      entry = created;
      this.#entries.set(key, created);
      created.socket.then(
        (socket) =>
          void socket.ended.then((error) => {
            if (this.#entries.get(key) === created) this.#entries.delete(key);
            for (const c of [...created.channels]) c.end(error);
          }),
        (error: unknown) => {
          if (this.#entries.get(key) === created) this.#entries.delete(key);
          this.#noteRefusal(error, [...created.tokens]);
        },
      );
    }
    if (token !== undefined) entry.tokens.add(token);
    const socket = await abortable(entry.socket, signal);
    await this.#ensureTokens(entry, socket, signal);
    const channel = createWsChannel(
      socket,
      endpoint.ledger,
      endpoint.shownUrl,
      () => entry.channels,
      (c) => this.#detach(entry, c),
    );
    entry.channels.add(channel);
    if (socket.isEnded) channel.end(await socket.ended);
    return channel;
  }

  /** Says hello again when the socket's tokens lack some a channel brought. */
  async #ensureTokens(
    entry: Entry,
    socket: WsSocket,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const run = entry.helloing.then(async () => {
      const wanted = [...entry.tokens];
      const had = new Set(socket.tokens);
      if (wanted.every((t) => had.has(t))) return;
      try {
        await socket.hello(wanted);
      } catch (error) {
        this.#noteRefusal(
          error,
          wanted.filter((t) => !had.has(t)),
        );
        throw error;
      }
    });
    entry.helloing = run.catch(() => undefined);
    await abortable(run, signal);
  }

  /** Tokens new to a refused hello are suspects: each gets its own socket from now on. */
  #noteRefusal(error: unknown, suspects: readonly string[]): void {
    if (error instanceof ProtocolError && error.reason === "unauthorized")
      for (const t of suspects) this.#refused.add(t);
  }

  #detach(entry: Entry, channel: WsChannel): void {
    entry.channels.delete(channel);
    if (entry.channels.size > 0) return;
    // The last channel closed: the socket goes (unless a channel is joining right now).
    void entry.socket.then(
      (socket) => {
        if (entry.channels.size > 0) return;
        if (this.#entries.get(entry.key) === entry)
          this.#entries.delete(entry.key);
        socket.close();
      },
      () => undefined,
    );
  }
}

let shared: WsPool | undefined;

/** The pool of this process (or browser tab): made on first use. */
export function sharedWsPool(): WsPool {
  shared ??= new WsPool();
  return shared;
}

function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error("aborted"));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: Error) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
