// Live heads of one ledger in a shared folder, for one gateway handle. fs.watch on the heads
// folder brings prompt news; a slow poll covers file systems whose change events miss other
// machines' writes (NFS, SMB, a sync tool's mount) or that have no events at all. Either one
// only asks for a scan: list the heads folder and report the set if it differs from the last
// one this handle saw. The handle's own putHeads moves that last set along, so a watcher
// hears about other writers only.
import fs from "node:fs";
import type { SerialQueue } from "../util/serial-queue.js";
import { applyHeadUpdate } from "./apply-head-update.js";
import type { HeadSet, HeadUpdate, Unsubscribe } from "./gateway.js";

export interface FolderWatchOptions {
  /** The ledger's heads folder. */
  readonly dir: string;
  readonly pollMs: number;
  /**
   * The queue this handle runs the ledger's head operations in. A scan runs in it too, so it
   * never sees this handle's own putHeads half done, nor mistakes it for another writer's.
   */
  readonly queue: SerialQueue;
  readonly list: () => Promise<HeadSet>;
  /** Creates the heads folder, which fs.watch needs to exist. */
  readonly ensureDir: () => Promise<void>;
}

/** A burst of file events (one putHeads is several) becomes one scan this long after its first. */
export const COALESCE_MS = 20;

interface Listener {
  readonly onHeads: (heads: HeadSet) => void;
  active: boolean;
}

export class FolderWatch {
  readonly #options: FolderWatchOptions;
  readonly #listeners = new Set<Listener>();
  readonly #poll: ReturnType<typeof setInterval>;
  #soon: ReturnType<typeof setTimeout> | undefined;
  #watcher: fs.FSWatcher | undefined;
  /** The last head set this handle saw; undefined until the first scan sets the baseline. */
  #seen: HeadSet | undefined;
  #scanning: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(options: FolderWatchOptions) {
    this.#options = options;
    this.#poll = setInterval(() => this.#request(), options.pollMs);
    // Neither timer keeps a process alive: a watch is not work the process still has to do.
    this.#poll.unref();
    // The baseline scan is queued now, inside watch(): a getHeads called after watch() runs
    // after it, so a change is either in that getHeads result or reported, never neither.
    this.#request();
  }

  get isEmpty(): boolean {
    return this.#listeners.size === 0;
  }

  add(onHeads: (heads: HeadSet) => void): Unsubscribe {
    const listener: Listener = { onHeads, active: true };
    this.#listeners.add(listener);
    return () => {
      listener.active = false;
      this.#listeners.delete(listener);
    };
  }

  /** Called from inside the queue by this handle's putHeads, once its files are written. */
  noteOwnUpdate(update: HeadUpdate): void {
    // Applied as a delta, not replaced by a fresh listing: another writer's change that came
    // in since the last scan must still be reported by the next one.
    if (this.#seen !== undefined)
      this.#seen = applyHeadUpdate(this.#seen, update) ?? this.#seen;
  }

  /** Stops the timers and the file watcher; resolves once no scan is in flight. */
  stop(): Promise<void> {
    this.#stopped = true;
    for (const listener of this.#listeners) listener.active = false;
    this.#listeners.clear();
    clearInterval(this.#poll);
    clearTimeout(this.#soon);
    this.#watcher?.close();
    this.#watcher = undefined;
    return this.#scanning ?? Promise.resolve();
  }

  #request(): void {
    if (this.#stopped) return;
    if (this.#scanning) {
      this.#again = true;
      return;
    }
    this.#scanning = this.#scanUntilQuiet().finally(() => {
      this.#scanning = undefined;
    });
  }

  async #scanUntilQuiet(): Promise<void> {
    do {
      this.#again = false;
      await this.#scan();
    } while (this.#again && !this.#stopped);
  }

  async #scan(): Promise<void> {
    let changed: HeadSet | undefined;
    try {
      changed = await this.#options.queue.run(async () => {
        if (this.#stopped) return undefined;
        // Retried on every scan until it works: the folder may be on a share that is not
        // mounted yet, and a watcher that failed must come back when it can.
        if (!this.#watcher) await this.#attach();
        const heads = await this.#options.list();
        const before = this.#seen;
        this.#seen = heads;
        return before !== undefined && !sameHeads(before, heads)
          ? heads
          : undefined;
      });
    } catch {
      // Watch has no error channel in the Gateway seam. The next poll retries, and the same
      // I/O failure reaches the caller through its own getHeads / putHeads.
      return;
    }
    if (changed && !this.#stopped) this.#deliver(changed);
  }

  async #attach(): Promise<void> {
    try {
      await this.#options.ensureDir();
      if (this.#stopped) return;
      const watcher = fs.watch(this.#options.dir, { persistent: false }, () =>
        this.#coalesce(),
      );
      // The folder was removed or the share went away: drop the watcher; polling carries on
      // and attaches a new one once the folder is back.
      watcher.on("error", () => {
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
      });
      this.#watcher = watcher;
    } catch {
      // No events here (a file system without them, or out of inotify watches): poll alone.
    }
  }

  #coalesce(): void {
    if (this.#soon !== undefined || this.#stopped) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.#request();
    }, COALESCE_MS);
    this.#soon.unref();
  }

  // On a microtask each, as HeadWatchers does: one listener's throw must not stop the others
  // or the scans, and surfaces as an uncaught exception, never silently.
  #deliver(heads: HeadSet): void {
    for (const listener of this.#listeners)
      queueMicrotask(() => {
        if (listener.active) listener.onHeads(heads);
      });
  }
}

function sameHeads(a: HeadSet, b: HeadSet): boolean {
  return a.length === b.length && a.every((cid, i) => cid.equals(b[i]));
}
