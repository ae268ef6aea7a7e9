// What one WebSocket session has handed to its socket and the peer has not taken yet, held
// within budgets: per session (bytes and messages) and for the whole server (bytes). A peer
// that stops reading cannot make the server buffer without bound (issue 11: one socket that
// never read its pongs grew a server to 1.6 GB): a send waits while the session is over its
// budget, and a session whose queue makes no progress for `stallTimeout` is dropped; when the
// server-wide budget runs out, the session holding the most is dropped.
import type { WebSocket } from "ws";

export interface SendLimits {
  /** Bytes a session may have queued before its next send waits (one message always fits). */
  readonly maxQueuedBytes: number;
  /** Messages a session may have queued before its next send waits. */
  readonly maxQueuedMessages: number;
  /** Milliseconds a waiting send tolerates without any queued message leaving. */
  readonly stallTimeout: number;
}

/** Why a session's queue gave up; the session closes its socket with it. */
export interface SendStall {
  readonly reason: string;
}

/** The server-wide tally of queued outgoing bytes. */
export class SendBudget {
  readonly #queues = new Set<SendQueue>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes queued by every session now. */
  get bytes(): number {
    return this.#bytes;
  }

  add(queue: SendQueue): void {
    this.#queues.add(queue);
  }

  remove(queue: SendQueue): void {
    this.#queues.delete(queue);
  }

  take(bytes: number): void {
    this.#bytes += bytes;
    if (this.#bytes <= this.maxBytes) return;
    // Over budget: the session holding the most is the slowest reader; drop it.
    let worst: SendQueue | undefined;
    for (const q of this.#queues)
      if (!worst || q.queuedBytes > worst.queuedBytes) worst = q;
    worst?.stall(
      `the server's outgoing budget of ${this.maxBytes} bytes is full and this connection holds the most of it (${worst.queuedBytes} bytes unread)`,
    );
  }

  give(bytes: number): void {
    this.#bytes -= bytes;
  }
}

export class SendQueue {
  #bytes = 0;
  #messages = 0;
  #ended = false;
  readonly #waiters = new Set<() => void>();
  #stalled: SendStall | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly limits: SendLimits,
    private readonly budget: SendBudget,
    private readonly onStall: (stall: SendStall) => void,
  ) {
    budget.add(this);
  }

  get queuedBytes(): number {
    return this.#bytes;
  }

  get queuedMessages(): number {
    return this.#messages;
  }

  /**
   * Hands `bytes` to the socket once the session is within its budget. Resolves false, having
   * sent nothing, when the queue stalled (the session is being dropped) or the socket closed.
   */
  async send(bytes: Uint8Array): Promise<boolean> {
    while (
      !this.#ended &&
      this.#stalled === undefined &&
      this.#messages > 0 &&
      (this.#bytes + bytes.length > this.limits.maxQueuedBytes ||
        this.#messages >= this.limits.maxQueuedMessages)
    )
      await this.#nextProgress();
    if (
      this.#ended ||
      this.#stalled !== undefined ||
      this.socket.readyState !== this.socket.OPEN
    )
      return false;
    const size = bytes.length;
    this.#bytes += size;
    this.#messages++;
    this.budget.take(size);
    this.socket.send(bytes, { binary: true }, () => this.#sent(size));
    return true;
  }

  /** Drops the session: its waiting sends give up and `onStall` closes it. */
  stall(reason: string): void {
    if (this.#stalled !== undefined || this.#ended) return;
    this.#stalled = { reason };
    this.#wake();
    this.onStall(this.#stalled);
  }

  /** The socket closed: what it still held no longer counts. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.budget.give(this.#bytes);
    this.budget.remove(this);
    this.#wake();
  }

  #sent(size: number): void {
    if (this.#ended) return;
    this.#bytes -= size;
    this.#messages--;
    this.budget.give(size);
    this.#wake();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolves at the next message that leaves the queue; stalls the queue if none does in time. */
  #nextProgress(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.stall(
          `too slow: ${this.#bytes} bytes in ${this.#messages} messages unread for ${this.limits.stallTimeout} ms`,
        );
      }, this.limits.stallTimeout);
      const waiter = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve();
      };
      this.#waiters.add(waiter);
    });
  }
}
