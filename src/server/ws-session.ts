// One WebSocket client. Its messages are handled strictly in order, one at a time, on a task
// queue that also carries the live pushes of its subscriptions (live-subscriptions.ts), so a
// subscriber sees a pull's answer before any change that arrived while it was computed. The
// first message must be a hello; everything after it, and every live delivery, is checked
// against the rights its tokens gave. A later hello replaces those rights and ends the
// subscriptions they no longer cover.
import type { RawData, WebSocket } from "ws";
import {
  decodeClientMessage,
  encodeMessage,
  ProtocolError,
  requestIdOf,
} from "../sync/protocol/index.js";
import type { ClientMessage, ServerMessage } from "../sync/protocol/index.js";
import type { Rights } from "./auth.js";
import { UNAUTHENTICATED_BODY } from "./server-limits.js";
import { SendQueue } from "./send-queue.js";
import type { SendBudget, SendLimits } from "./send-queue.js";
import { setMaxPayload } from "./ws-payload-limit.js";
import type { LedgerService } from "./ledger-service.js";
import { LiveSubscriptions } from "./live-subscriptions.js";
import { errorReply } from "./server-event.js";
import type { EventSource, ServerLog } from "./server-event.js";

/** A client that sends no hello within this time is disconnected. */
const HELLO_TIMEOUT = 30_000;
/** After a close frame, how long the peer has to answer before the socket is destroyed. */
const CLOSE_GRACE = 2_000;

/** WebSocket close codes the server uses. */
export const CLOSE = {
  goingAway: 1001,
  policy: 1008,
  tryAgainLater: 1013,
} as const;

type State =
  | { kind: "greeting" }
  | { kind: "open"; rights: Rights; version: number }
  /** Closing: nothing more is read or answered. */
  | { kind: "closing" }
  | { kind: "closed" };

export interface SessionLimits extends SendLimits {
  /** Largest message read once the session is authenticated (the listener's maxPayload). */
  readonly maxPayload: number;
  /** Requests received and not yet answered before the session stops reading. */
  readonly maxPendingRequests: number;
}

export interface WsSessionOptions {
  socket: WebSocket;
  service: LedgerService;
  /** The token of the upgrade request's Authorization header (hello.tokens take precedence). */
  upgradeToken: string | undefined;
  limits: SessionLimits;
  /** The server-wide budget of queued outgoing bytes. */
  budget: SendBudget;
  remote: string | undefined;
  /** Names the session in the log (EventSource.session). */
  id: string;
  log: ServerLog;
  onClose: (session: WsSession) => void;
}

export class WsSession {
  readonly #socket: WebSocket;
  readonly #service: LedgerService;
  readonly #upgradeToken: string | undefined;
  readonly #remote: string | undefined;
  readonly #id: string;
  readonly #log: ServerLog;
  readonly #onClose: (session: WsSession) => void;
  #state: State = { kind: "greeting" };
  #tail: Promise<void> = Promise.resolve();
  #pendingBytes = 0;
  #pendingRequests = 0;
  readonly #limits: SessionLimits;
  readonly #out: SendQueue;
  /** Whether the session may read full-size messages (it proved who it is, or needs not). */
  #trusted: boolean;
  readonly #live: LiveSubscriptions;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;
  #closed: Promise<void>;
  /** Whether the peer answered since the last heartbeat. */
  isAlive = true;
  #missed = 0;
  /** Messages received (for stats). */
  messages = 0;
  /** Bytes of the messages received (for stats). */
  bytes = 0;

  constructor(options: WsSessionOptions) {
    this.#socket = options.socket;
    this.#service = options.service;
    this.#upgradeToken = options.upgradeToken;
    this.#remote = options.remote;
    this.#id = options.id;
    this.#log = options.log;
    this.#onClose = options.onClose;
    this.#limits = options.limits;
    const socket = this.#socket;
    socket.binaryType = "nodebuffer";
    this.#out = new SendQueue(
      socket,
      options.limits,
      options.budget,
      (stall) => {
        this.#log({
          kind: "refused",
          transport: "ws",
          reason: "too-large",
          message: `dropped a slow consumer: ${stall.reason}`,
          ...this.#where(),
        });
        void this.close(CLOSE.tryAgainLater, "too slow to read");
      },
    );
    // Before a verified token, read no more than a hello needs (the upgrade's Authorization
    // header, when it verifies, counts).
    this.#trusted =
      !this.#service.hasAuth || this.#verifies(this.#upgradeToken);
    if (!this.#trusted) setMaxPayload(socket, UNAUTHENTICATED_BODY);
    this.#live = new LiveSubscriptions({
      service: this.#service,
      origin: this,
      enqueue: (task) => this.#enqueue(task),
      send: (message) => this.#send(message),
      checkRead: (ledger) => this.#checkRead(ledger),
      errorFrame: (error) =>
        errorReply(error, undefined, this.#log, "ws", this.#where()),
      onTooSlow: () =>
        void this.close(CLOSE.tryAgainLater, "too slow for live changes"),
      onDelivered: (ledger, lag) =>
        this.#log({
          kind: "delivered",
          transport: "ws",
          ledger,
          lag,
          ...this.#where(),
        }),
    });
    this.#closed = new Promise((resolve) =>
      socket.once("close", (code: number) => {
        this.#end(code);
        resolve();
      }),
    );
    socket.on("message", (data, isBinary) => this.#receive(data, isBinary));
    socket.on("pong", () => (this.isAlive = true));
    socket.on("error", (error) =>
      this.#log({ kind: "failure", transport: "ws", error, ...this.#where() }),
    );
    this.#helloTimer = setTimeout(
      () => void this.close(CLOSE.policy, "no hello"),
      HELLO_TIMEOUT,
    );
    this.#log({ kind: "open", transport: "ws", ...this.#where() });
  }

  get subscriptions(): number {
    return this.#live.size;
  }

  /** Outgoing bytes handed to the socket and not yet taken by the peer. */
  get queuedBytes(): number {
    return this.#out.queuedBytes;
  }

  #verifies(token: string | undefined): boolean {
    if (token === undefined) return false;
    try {
      this.#service.authenticate([token]);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Sends a heartbeat ping; a peer that did not answer the last one is dropped. While this
   * session has paused reading (a backlog of requests), pongs cannot arrive: it gets longer.
   */
  heartbeat(): void {
    this.#missed = this.isAlive ? 0 : this.#missed + 1;
    if (this.#missed >= (this.#socket.isPaused ? 4 : 1)) {
      this.#socket.terminate();
      return;
    }
    this.isAlive = false;
    try {
      this.#socket.ping();
    } catch {
      this.#socket.terminate();
    }
  }

  /**
   * After a token was revoked: a session holding it gets an `unauthorized` error frame and is
   * closed (its client must hello again with a token that still works).
   */
  async endIfRevoked(): Promise<void> {
    const state = this.#state;
    if (state.kind !== "open" || !this.#service.isRevoked(state.rights)) return;
    await this.#send(
      errorReply(
        new ProtocolError("unauthorized", "the token was revoked"),
        undefined,
        this.#log,
        "ws",
        this.#where(),
      ),
    ).catch(() => undefined);
    await this.close(CLOSE.policy, "token revoked");
  }

  /**
   * For a shutdown: reads nothing more, lets the requests already received finish (an
   * in-flight push is stored and acknowledged) for up to `grace` ms, then closes with 1001 so
   * the client fails over at once.
   */
  async drain(grace: number): Promise<void> {
    if (this.#isActive()) {
      this.#socket.pause();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#tail,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, grace))),
      ]);
      clearTimeout(timer);
    }
    return this.close(CLOSE.goingAway, "the server is shutting down");
  }

  /** Closes the socket; resolves once it is closed (destroyed if the peer does not answer). */
  close(code: number, reason: string): Promise<void> {
    if (this.#state.kind !== "closed" && this.#state.kind !== "closing") {
      this.#state = { kind: "closing" };
      this.#socket.close(code, reason);
      const timer = setTimeout(() => this.#socket.terminate(), CLOSE_GRACE);
      void this.#closed.then(() => clearTimeout(timer));
    }
    return this.#closed;
  }

  #isActive(): boolean {
    return this.#state.kind === "greeting" || this.#state.kind === "open";
  }

  #where(): EventSource {
    return this.#remote !== undefined
      ? { remote: this.#remote, session: this.#id }
      : { session: this.#id };
  }

  #receive(data: RawData, isBinary: boolean): void {
    this.isAlive = true;
    if (!this.#isActive()) return;
    this.messages++;
    const bytes = toBytes(data);
    this.bytes += bytes.length;
    this.#pendingBytes += bytes.length;
    this.#pendingRequests++;
    // Stop reading while a lot is unanswered; TCP flow control then slows the client down.
    if (this.#isBacklogged()) this.#socket.pause();
    this.#enqueue(async () => {
      try {
        await this.#handle(bytes, isBinary);
      } finally {
        this.#pendingBytes -= bytes.length;
        this.#pendingRequests--;
        if (this.#socket.isPaused && !this.#isBacklogged())
          this.#socket.resume();
      }
    });
  }

  /** Too much received and not answered: an untrusted session may have one hello pending. */
  #isBacklogged(): boolean {
    const maxBytes = this.#trusted
      ? 4 * this.#service.maxMessage
      : UNAUTHENTICATED_BODY;
    return (
      this.#pendingBytes > maxBytes ||
      this.#pendingRequests > this.#limits.maxPendingRequests
    );
  }

  #enqueue(task: () => Promise<void>): void {
    this.#tail = this.#tail.then(async () => {
      if (!this.#isActive()) return;
      try {
        await task();
      } catch (error) {
        // Only bugs reach here: handlers answer their own errors.
        this.#log({
          kind: "failure",
          transport: "ws",
          error,
          ...this.#where(),
        });
      }
    });
  }

  async #handle(bytes: Uint8Array, isBinary: boolean): Promise<void> {
    let id: number | undefined;
    let hello = false;
    try {
      if (!isBinary)
        throw new ProtocolError(
          "bad-frame",
          "text frames are not part of the protocol; send binary CBOR messages",
        );
      let message: ClientMessage;
      try {
        message = decodeClientMessage(bytes, this.#service.maxMessage);
      } catch (error) {
        id = requestIdOf(bytes);
        throw error;
      }
      id = message.id;
      hello = message.t === "hello";
      await this.#dispatch(message);
    } catch (error) {
      await this.#send(errorReply(error, id, this.#log, "ws", this.#where()));
      if (hello && isUnauthorized(error))
        void this.close(CLOSE.policy, "unauthorized");
      else if (this.#state.kind === "greeting" && !isVersionRefusal(error))
        void this.close(CLOSE.policy, "the first message must be a hello");
    }
  }

  #checkRead(ledger: string): void {
    if (this.#state.kind !== "open")
      throw new ProtocolError("unauthorized", "the session is not open");
    this.#service.authorize(this.#state.rights, ledger, "read");
  }

  async #dispatch(message: ClientMessage): Promise<void> {
    if (message.t === "hello") {
      const welcome = this.#service.welcome(message);
      const rights = this.#service.authenticate(
        message.tokens ??
          (this.#upgradeToken !== undefined ? [this.#upgradeToken] : []),
      );
      clearTimeout(this.#helloTimer);
      this.#state = { kind: "open", rights, version: welcome.v };
      if (!this.#trusted) {
        this.#trusted = true;
        setMaxPayload(this.#socket, this.#limits.maxPayload);
      }
      await this.#send(welcome);
      await this.#live.endUncovered();
      return;
    }
    const state = this.#state;
    if (state.kind !== "open")
      throw new ProtocolError(
        "bad-message",
        `the first message must be a hello, not ${message.t}`,
      );
    switch (message.t) {
      case "ping":
        await this.#send({ t: "pong", id: message.id });
        return;
      case "pull":
        this.#service.authorize(state.rights, message.ledger, "read");
        await this.#live.pull(message);
        return;
      case "push": {
        this.#service.authorize(state.rights, message.ledger, "write");
        const { ack, uploaded } = await this.#service.push(message, this);
        this.#log({
          kind: "push",
          transport: "ws",
          ledger: message.ledger,
          stored: ack.stored,
          ...(uploaded > 0 ? { uploaded } : {}),
          ...this.#where(),
        });
        await this.#send(ack);
        return;
      }
      case "upload":
        this.#service.authorize(state.rights, message.ledger, "write");
        await this.#send(await this.#service.upload(message));
        return;
      case "delete":
        this.#service.authorize(state.rights, message.ledger, "write");
        await this.#send(await this.#service.deleteLedger(message));
        return;
      case "publish":
        this.#service.authorize(state.rights, message.ledger, "write");
        await this.#send(await this.#service.publishSnapshot(message));
        return;
    }
  }

  /** Sends one message, once this session is within its outgoing budget (send-queue.ts). */
  async #send(message: ServerMessage): Promise<void> {
    if (this.#socket.readyState !== this.#socket.OPEN) return;
    await this.#out.send(encodeMessage(message));
  }

  #end(code: number): void {
    if (this.#state.kind === "closed") return;
    this.#state = { kind: "closed" };
    clearTimeout(this.#helloTimer);
    this.#out.end();
    this.#live.stopAll();
    this.#log({ kind: "close", transport: "ws", code, ...this.#where() });
    this.#onClose(this);
  }
}

/** A hello refused for its version leaves the session waiting for another. */
function isVersionRefusal(error: unknown): boolean {
  return error instanceof ProtocolError && error.reason === "version";
}

/** Bad credentials close the socket after the error frame: nothing more is read from it. */
function isUnauthorized(error: unknown): boolean {
  return error instanceof ProtocolError && error.reason === "unauthorized";
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
