// Group commit for one append-only file: one fdatasync at a time covers everything written
// before it started, and every caller that arrived meanwhile shares the next one.
import fs from "node:fs";
import { createDeferred, type Deferred } from "./deferred.js";
import { IoError } from "./errors.js";

export class GroupSync {
  readonly #subject: string;
  readonly #currentFd: () => number | undefined;
  // Bytes ever written (never decreasing, even when a rewrite makes the file shorter), so an
  // fdatasync started before a rewrite cannot vouch for data written after it.
  #written: number;
  #synced = 0;
  #waiters: { readonly upTo: number; readonly done: Deferred<void> }[] = [];
  #syncing: Promise<void> | undefined;
  /** Descriptors no longer written to, closed once no fdatasync is using them. */
  #retired: number[] = [];
  #failure: IoError | undefined;

  /** `written`: bytes already in the file, not known to be durable. */
  constructor(
    subject: string,
    currentFd: () => number | undefined,
    written: number,
  ) {
    this.#subject = subject;
    this.#currentFd = currentFd;
    this.#written = written;
  }

  /** Set once an fdatasync failed: the kernel may have dropped dirty pages, so nothing since open can be vouched for. */
  get failure(): IoError | undefined {
    return this.#failure;
  }

  wrote(bytes: number): void {
    this.#written += bytes;
  }

  /** Settles once everything written so far is on stable storage. */
  request(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#synced >= this.#written || this.#currentFd() === undefined)
      return Promise.resolve();
    const done = createDeferred<void>();
    this.#waiters.push({ upTo: this.#written, done });
    this.#start();
    return done.promise;
  }

  /** Everything written so far is durable by other means (a rewrite that was fsynced whole). */
  markSynced(): void {
    this.#synced = this.#written;
    for (const waiter of this.#waiters.splice(0)) waiter.done.resolve();
  }

  /** Closes `fd` as soon as no fdatasync is using it. */
  retire(fd: number): void {
    this.#retired.push(fd);
    this.#closeRetired();
  }

  /** Settles when no fdatasync is in flight or queued. */
  async idle(): Promise<void> {
    while (this.#syncing) await this.#syncing;
  }

  #start(): void {
    const fd = this.#currentFd();
    if (this.#syncing || this.#waiters.length === 0 || fd === undefined) return;
    const upTo = this.#written;
    // Never rejects: outcomes go to the waiters, and idle() must not throw.
    this.#syncing = new Promise<void>((resolve) => {
      fs.fdatasync(fd, (error) => {
        this.#syncing = undefined;
        if (error) {
          this.#failure ??= new IoError(`fdatasync ${this.#subject}`, {
            cause: error,
          });
          for (const waiter of this.#waiters.splice(0))
            waiter.done.reject(this.#failure);
        } else {
          this.#synced = Math.max(this.#synced, upTo);
          const ready = this.#waiters.filter((w) => w.upTo <= upTo);
          this.#waiters = this.#waiters.filter((w) => w.upTo > upTo);
          for (const waiter of ready) waiter.done.resolve();
        }
        this.#closeRetired();
        resolve();
        this.#start();
      });
    });
  }

  #closeRetired(): void {
    if (this.#syncing) return;
    for (const fd of this.#retired.splice(0)) fs.closeSync(fd);
  }
}
