// What one WebSocket session sends of its ledgers: the answer to a pull and, when the pull is
// live, the subscription it leaves, which delivers each change as `commits` messages. Deliveries run on the session's task queue, behind the
// request being answered, and each one checks the session's rights again: a token that
// lapsed, or a hello that replaced it, ends the subscription with an error frame naming the
// ledger.
import { cidKey } from "../blocks/cid.js";
import type {
  ErrorMessage,
  Pull,
  ServerMessage,
} from "../sync/protocol/index.js";
import type { LedgerChange } from "./backend.js";
import type { LedgerService } from "./ledger-service.js";

/** Live changes queued for one slow subscriber before it is disconnected (it pulls again). */
const MAX_QUEUED_CHANGES = 1024;

interface Subscription {
  readonly ledger: string;
  /** CIDs sent by the pull that opened it, while it is still answering; undefined after. */
  sent: Set<string> | undefined;
  stop(): void;
}

export interface LiveSubscriptionsOptions {
  service: LedgerService;
  /** The session: changes it pushed itself are not sent back to it. */
  origin: unknown;
  /** Runs a task on the session's queue, in order with its requests. */
  enqueue: (task: () => Promise<void>) => void;
  send: (message: ServerMessage) => Promise<void>;
  /** Throws unless the session may read `ledger` now. */
  checkRead: (ledger: string) => void;
  /** The wire error for a failure (and its log line). */
  errorFrame: (error: unknown) => ErrorMessage;
  /** Called when more changes are queued than the subscriber reads: the session closes. */
  onTooSlow: () => void;
  /** A change was handed to the socket, `lag` seconds after this process learned of it. */
  onDelivered: (ledger: string, lag: number) => void;
}

export class LiveSubscriptions {
  readonly #options: LiveSubscriptionsOptions;
  readonly #subs = new Map<string, Subscription>();
  #queuedChanges = 0;

  constructor(options: LiveSubscriptionsOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#subs.size;
  }

  /**
   * Answers a pull (the caller checked read rights): the snapshot it may start from, the
   * commits it lacks, then the heads. A live pull leaves a subscription behind.
   */
  async pull(pull: Pull): Promise<void> {
    const { service, send } = this.#options;
    const { ledger } = pull;
    // Watch before computing the difference: a change landing meanwhile is queued behind
    // this task and pushed after the heads, less what the answer already carried.
    const sub = pull.live ? this.#subscribe(ledger) : undefined;
    try {
      const { heads, missing, snapshot } = await service.difference(
        ledger,
        pull.have,
        pull.snapshot === true,
      );
      if (snapshot)
        await send({
          t: "snapshot",
          id: pull.id,
          ledger,
          snapshot: [snapshot.cid, snapshot.bytes],
        });
      for await (const batch of service.batches(ledger, missing, pull.id)) {
        if (sub?.sent)
          for (const [cid] of batch.commits) sub.sent.add(cidKey(cid));
        await send(batch);
      }
      await send({ t: "heads", id: pull.id, ledger, heads });
    } catch (error) {
      sub?.stop();
      throw error;
    } finally {
      if (sub) sub.sent = undefined;
    }
  }

  /** Watches `ledger` (replacing an earlier subscription to it). */
  #subscribe(ledger: string): Subscription {
    const { service, origin, enqueue, onTooSlow } = this.#options;
    this.#subs.get(ledger)?.stop();
    const sub: Subscription = {
      ledger,
      sent: new Set(),
      stop: () => {
        unwatch();
        if (this.#subs.get(ledger) === sub) this.#subs.delete(ledger);
      },
    };
    const unwatch = service.watch(ledger, (change) => {
      if (change.origin === origin || this.#subs.get(ledger) !== sub) return;
      if (++this.#queuedChanges > MAX_QUEUED_CHANGES) {
        onTooSlow();
        return;
      }
      const skip = sub.sent;
      const seen = performance.now();
      enqueue(async () => {
        this.#queuedChanges--;
        await this.#deliver(sub, change, skip, seen);
      });
    });
    this.#subs.set(ledger, sub);
    return sub;
  }

  /** After new rights: ends, with an error frame each, the subscriptions they do not cover. */
  async endUncovered(): Promise<void> {
    for (const sub of [...this.#subs.values()]) {
      try {
        this.#options.checkRead(sub.ledger);
      } catch (error) {
        await this.#end(sub, error);
      }
    }
  }

  /** Stops every subscription without a word (the socket closed). */
  stopAll(): void {
    for (const sub of [...this.#subs.values()]) sub.stop();
  }

  async #deliver(
    sub: Subscription,
    change: LedgerChange,
    skip: Set<string> | undefined,
    seen: number,
  ): Promise<void> {
    if (this.#subs.get(sub.ledger) !== sub) return;
    const { service, checkRead, send, onDelivered } = this.#options;
    try {
      // Rights are checked at every delivery: a token that expired, or a hello that replaced
      // it, ends the subscription here even if nothing else noticed.
      checkRead(sub.ledger);
      for (const message of await service.liveBatches(sub.ledger, change, skip))
        await send(message);
      onDelivered(sub.ledger, (performance.now() - seen) / 1000);
    } catch (error) {
      // The client no longer gets this ledger's changes: tell it, so it can pull again.
      await this.#end(sub, error);
    }
  }

  /** Stops a subscription and tells the client why, so it can pull again or give up. */
  async #end(sub: Subscription, error: unknown): Promise<void> {
    sub.stop();
    const reply = this.#options.errorFrame(error);
    reply.ledger = sub.ledger;
    reply.message =
      `live changes of ledger ${JSON.stringify(sub.ledger.slice(0, 64))} stopped: ${reply.message}`.slice(
        0,
        4096,
      );
    await this.#options.send(reply);
  }
}
