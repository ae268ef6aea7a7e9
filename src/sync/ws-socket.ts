// One WebSocket to a SyncServer, shared by every ledger of the process that syncs with it
// (ws-pool.ts): hello/welcome (again whenever the set of tokens grows), requests matched to
// replies by id, a heartbeat, and the unsolicited frames routed by the ledger they name — live
// commits to that ledger's channels, an error with `ledger` to end only that ledger's
// subscription. An error frame without id or ledger, a bad frame, a silent server or a closed
// socket ends the whole socket.
import { createDeferred } from "../util/deferred.js";
import {
  decodeServerMessage,
  encodeMessage,
  PROTOCOL_VERSIONS,
  ProtocolError,
} from "./protocol/index.js";
import type {
  ClientMessage,
  ServerMessage,
  Welcome,
} from "./protocol/index.js";
import type { LiveEvent } from "./remote.js";
import { toCommits } from "./remote-requests.js";
import type { Exchange } from "./remote-requests.js";
import type { SocketLike, SocketLoader } from "./socket.js";
import { TimeoutError, TransportError } from "./transport-error.js";

export interface WsOptions {
  /** Opening the socket plus hello/welcome. */
  readonly openTimeoutMs: number;
  /** Silence on a request (no reply frame) after which it fails. */
  readonly requestTimeoutMs: number;
  /** A ping is sent after this much silence; twice this and the socket is given up. */
  readonly heartbeatMs: number;
}

export const DEFAULT_WS_OPTIONS: WsOptions = {
  openTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  heartbeatMs: 15_000,
};

interface Pending {
  onMessage(message: ServerMessage): Promise<boolean>;
  fail(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** What the socket tells about the ledgers it carries. */
export interface WsSocketEvents {
  /** Live commits (or heads) of `ledger`. */
  onLive(ledger: string, event: LiveEvent): void;
  /** The server ended `ledger`'s live subscription (its rights lapsed). */
  onLedgerError(ledger: string, error: ProtocolError): void;
}

export class WsSocket {
  readonly #socket: SocketLike;
  readonly #options: WsOptions;
  readonly #events: WsSocketEvents;
  /** The URL as the app gave it, for messages. */
  readonly #shownUrl: string;
  readonly #ended = createDeferred<Error>();
  readonly #requests = new Map<number, Pending>();
  #nextId = 1;
  #lastHeard = Date.now();
  #inbound: Promise<void> = Promise.resolve();
  #isEnded = false;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #welcome: Welcome | undefined;
  /** The tokens the last accepted hello carried. */
  #tokens: readonly string[] = [];

  private constructor(
    socket: SocketLike,
    options: WsOptions,
    events: WsSocketEvents,
    shownUrl: string,
  ) {
    this.#socket = socket;
    this.#options = options;
    this.#events = events;
    this.#shownUrl = shownUrl;
  }

  /**
   * Opens a socket to `wsUrl` and says hello with `tokens`, within one timeout. `shownUrl`
   * is what errors name (the URL the app gave).
   */
  static async open(
    loadSocket: SocketLoader,
    wsUrl: string,
    shownUrl: string,
    tokens: readonly string[],
    events: WsSocketEvents,
    options: WsOptions = DEFAULT_WS_OPTIONS,
    signal?: AbortSignal,
  ): Promise<WsSocket> {
    const Socket = await loadSocket();
    const ws = new WsSocket(new Socket(wsUrl), options, events, shownUrl);
    await ws.#start(tokens, signal);
    return ws;
  }

  /** Settles with the error that ended the socket; never rejects. */
  get ended(): Promise<Error> {
    return this.#ended.promise;
  }

  get isEnded(): boolean {
    return this.#isEnded;
  }

  get welcome(): Welcome {
    return this.#welcome!;
  }

  get tokens(): readonly string[] {
    return this.#tokens;
  }

  nextId(): number {
    return this.#nextId++;
  }

  /**
   * Says hello again with a new set of tokens; the server replaces the session's rights with
   * theirs. A refusal (a bad token) ends the socket: the server closes it.
   */
  async hello(tokens: readonly string[]): Promise<void> {
    try {
      await this.#hello(tokens);
    } catch (error) {
      this.#endAfterRefusal(error);
      throw error;
    }
  }

  readonly exchange: Exchange = (message, onReply) =>
    this.#request(message, onReply);

  close(): void {
    this.#end(
      new TransportError("ws", `${this.#shownUrl}: closed by the client`),
    );
  }

  async #start(tokens: readonly string[], signal?: AbortSignal): Promise<void> {
    const socket = this.#socket;
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      this.#inbound = this.#inbound.then(() => this.#onFrame(event.data));
    };
    socket.onclose = (event) =>
      this.#end(
        new TransportError(
          "ws",
          `${this.#shownUrl}: socket closed (${event.code}${event.reason ? ` ${event.reason}` : ""})`,
          { closeCode: event.code },
        ),
      );
    socket.onerror = () =>
      this.#end(new TransportError("ws", `${this.#shownUrl}: socket error`));
    const { heartbeatMs } = this.#options;
    this.#heartbeat = setInterval(() => {
      const silent = Date.now() - this.#lastHeard;
      if (silent > 2 * heartbeatMs)
        this.#end(
          new TimeoutError(
            "ws",
            `${this.#shownUrl}: server silent for ${silent} ms`,
          ),
        );
      else if (silent > heartbeatMs && !this.#isEnded)
        this.#request({ t: "ping", id: this.#nextId++ }, () =>
          Promise.resolve(true),
        ).catch(
          () => undefined, // the socket's end reports it
        );
    }, heartbeatMs / 3);
    (this.#heartbeat as { unref?: () => void }).unref?.();

    const opened = createDeferred<void>();
    let isOpen = false;
    const openTimer = setTimeout(
      () =>
        afterPendingIo(() => {
          if (!isOpen)
            this.#end(
              new TimeoutError(
                "ws",
                `no welcome from ${this.#shownUrl} in ${this.#options.openTimeoutMs} ms`,
              ),
            );
        }),
      this.#options.openTimeoutMs,
    );
    void this.#ended.promise.then((e) => opened.reject(e));
    const onAbort = () =>
      this.#end(
        new TransportError("ws", `${this.#shownUrl}: closed by the client`),
      );
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
    socket.onopen = () => {
      this.#hello(tokens).then(
        () => {
          isOpen = true;
          opened.resolve();
        },
        (e: Error) => {
          opened.reject(e);
          this.#endAfterRefusal(e);
        },
      );
    };
    try {
      await opened.promise;
    } finally {
      clearTimeout(openTimer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async #hello(tokens: readonly string[]): Promise<void> {
    await this.#request(
      {
        t: "hello",
        id: this.#nextId++,
        v: [...PROTOCOL_VERSIONS],
        ...(tokens.length > 0 ? { tokens: [...tokens] } : {}),
        client: "kiln",
      },
      (m) => {
        if (m.t !== "welcome")
          throw new ProtocolError(
            "bad-message",
            `expected welcome, got ${m.t}`,
          );
        this.#welcome = m;
        return Promise.resolve(true);
      },
    );
    this.#tokens = tokens;
  }

  /**
   * A refused hello ends the socket (the server closes it after an unauthorized one). The
   * refusal is the error of whoever said hello; the other ledgers on the socket only lost
   * their wire, so for them it is a transport failure, which their retry fixes.
   */
  #endAfterRefusal(error: unknown): void {
    this.#end(
      new TransportError(
        "ws",
        `${this.#shownUrl}: the socket closed after a refused hello (${(error as Error).message})`,
        { cause: error },
      ),
    );
  }

  #end(error: Error): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    clearInterval(this.#heartbeat);
    for (const r of this.#requests.values()) {
      clearTimeout(r.timer);
      r.fail(error);
    }
    this.#requests.clear();
    try {
      this.#socket.close(1000);
    } catch {
      // Closing a socket that never opened throws in some implementations; it is gone anyway.
    }
    this.#ended.resolve(error);
  }

  #send(message: ClientMessage): void {
    if (this.#isEnded)
      throw new TransportError("ws", `${this.#shownUrl}: the socket is closed`);
    this.#socket.send(encodeMessage(message));
  }

  #request(
    message: ClientMessage & { id: number },
    onMessage: Pending["onMessage"],
  ): Promise<void> {
    const done = createDeferred<void>();
    let isDone = false;
    /** Each reply re-arms the silence timer; a timer armed before it no longer counts. */
    let armed = 0;
    const arm = () => {
      const mine = ++armed;
      return setTimeout(
        () =>
          afterPendingIo(() => {
            if (isDone || mine !== armed) return;
            if (this.#requests.get(message.id) !== entry) return;
            this.#requests.delete(message.id);
            const error = new TimeoutError(
              "ws",
              `${this.#shownUrl}: no reply to ${message.t} in ${this.#options.requestTimeoutMs} ms`,
            );
            done.reject(error);
            // A server that stops answering one request cannot be trusted with the next.
            this.#end(error);
          }),
        this.#options.requestTimeoutMs,
      );
    };
    const entry: Pending = {
      timer: arm(),
      fail: (e) => done.reject(e),
      onMessage: async (m) => {
        clearTimeout(entry.timer);
        armed++; // a timeout already on its way no longer counts: a reply came

        if (m.t === "error") {
          this.#requests.delete(message.id);
          done.reject(new ProtocolError(m.reason, m.message));
          return true;
        }
        const finished = await onMessage(m);
        if (finished) {
          isDone = true;
          this.#requests.delete(message.id);
          done.resolve();
        } else entry.timer = arm();
        return finished;
      },
    };
    this.#requests.set(message.id, entry);
    try {
      this.#send(message);
    } catch (error) {
      clearTimeout(entry.timer);
      this.#requests.delete(message.id);
      done.reject(error);
    }
    return done.promise;
  }

  async #onFrame(data: unknown): Promise<void> {
    this.#lastHeard = Date.now();
    if (!(data instanceof ArrayBuffer))
      return this.#end(
        new ProtocolError("bad-frame", "server sent a text frame"),
      );
    let message: ServerMessage;
    try {
      message = decodeServerMessage(new Uint8Array(data), Infinity);
    } catch (error) {
      return this.#end(error as Error);
    }
    if (message.id === undefined) {
      if (message.t === "commits")
        this.#events.onLive(message.ledger, {
          commits: toCommits(message.commits),
          heads: message.heads,
        });
      else if (message.t === "error" && message.ledger !== undefined)
        this.#events.onLedgerError(
          message.ledger,
          new ProtocolError(message.reason, message.message),
        );
      else if (message.t === "error")
        this.#end(new ProtocolError(message.reason, message.message));
      return;
    }
    const r = this.#requests.get(message.id);
    if (!r) return; // a reply to a request that already timed out
    try {
      await r.onMessage(message);
    } catch (error) {
      this.#requests.delete(message.id);
      clearTimeout(r.timer);
      r.fail(error as Error);
      this.#end(error as Error);
    }
  }
}

/**
 * Runs `fn` once the event loop has delivered the I/O already waiting: a timeout that fires
 * late because the process was busy (a long run of awaited local writes) must not blame the
 * server for a reply that arrived meanwhile and is only waiting to be read.
 */
function afterPendingIo(fn: () => void): void {
  const immediate = (
    globalThis as { setImmediate?: (f: () => void) => unknown }
  ).setImmediate;
  if (immediate) immediate(fn);
  else setTimeout(fn, 0);
}
