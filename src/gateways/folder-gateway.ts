// file:///path as a remote: a folder that many processes, and machines sharing it (NFS, SMB,
// Dropbox, Syncthing), use at once with no lock. Unlike the local file gateway it keeps no
// log and no in-memory index: every commit and every head is one file, and every change is
// one create, rename or unlink, so concurrent writers never overwrite each other.
//
// Layout (docs/gateways.md carries a copy):
//
//   <folder>/                       must exist: open never creates it (see open below)
//     <encoded ledger name>/        encodeLedgerName, as file:// uses
//       commits/
//         <cid>                     the commit's bytes, immutable; <cid> is the base32 CIDv1
//         .<cid>.<uuid>.tmp         only while being written (or left by a crash; ignored)
//       heads/
//         <cid>                     empty; one file per head
//
// putCommit writes a temporary with a unique name in commits/, fsyncs it, renames it into
// place and fsyncs the folder, so a reader never sees a partial commit and a power loss
// cannot keep a head whose commit it dropped. A commit file that already exists is left
// alone. getCommit returns the bytes unverified (the caller checks them against the CID).
//
// putHeads({ add, remove }) checks every added commit exists, creates the add files, then
// unlinks the remove files that are not also added, and fsyncs heads/. Per-file steps are
// why two writers cannot lose a head: both writers' adds survive, and a writer removes only
// heads its added commits supersede (their parents), which stay reachable through them. A
// remove racing another writer's re-add of the same CID is harmless either way: a CID names
// immutable content, so the re-added file is the same head, and a superseded head that
// survives is an ancestor of another head — merging it changes nothing, and the next writer
// that builds on both removes it. A crash between the adds and the removes leaves such extra
// heads, never fewer. getHeads lists heads/, skipping names that are not canonical CIDs.
//
// URL: file:///absolute/path[?poll=ms] — the path percent-decoded and refused like file://'s
// (file-url.ts); poll (10 ms to 1 h, default 1000) paces the watch fallback below.
//
// watch(ledger) creates heads/ if needed, watches it with fs.watch (a burst of events becomes
// one listing 20 ms later) and also lists it every `poll` ms, for shares whose events miss
// other machines' writes. It reports a listing that differs from the last set this handle
// saw; this handle's own putHeads moves that set along, so only other writers are reported.
// A change made after watch() returns is reported or is in the result of a getHeads called
// after watch(), never neither. Timers are unref'd; unsubscribe and close() stop everything.
//
// Over an eventually consistent sync tool (Dropbox, Syncthing) one writer's files may reach
// another machine in any order: a head can show up before its commit does. Callers treat a
// missing commit as not arrived yet, never as a broken ledger.
import path from "node:path";
import { pathToFileURL } from "node:url";
import fs from "node:fs";
import type { CID } from "../blocks/cid.js";
import { cidString } from "../blocks/cid.js";
import {
  ClosedError,
  InvalidArgumentError,
  InvalidUrlError,
  IoError,
  KilnError,
  MissingCommitError,
} from "../util/errors.js";
import { SerialQueue } from "../util/serial-queue.js";
import { folderOfFileUrl } from "./file-url.js";
import {
  ensureDir,
  fsyncDir,
  isFile,
  listCidFiles,
  readFileIfExists,
  removeFile,
  touchFile,
  writeImmutableFile,
} from "./folder-files.js";
import { FolderWatch } from "./folder-watch.js";
import type {
  Gateway,
  GatewayFactory,
  HeadSet,
  HeadUpdate,
  Unsubscribe,
} from "./gateway.js";
import { checkLedgerName, encodeLedgerName } from "../util/ledger-name.js";

export interface FolderOptions {
  /** Absolute, normalised path of the shared folder. */
  readonly dir: string;
  /** How often a watch lists the heads folder, for changes file events miss. */
  readonly pollMs: number;
}

export const DEFAULT_POLL_MS = 1000;
const MIN_POLL_MS = 10;
const MAX_POLL_MS = 3_600_000;

/** A shared folder as a remote (`file:///dir` connected with connect()); Node only. */
export const folderGateway: GatewayFactory<FolderOptions> = {
  schemes: ["file:"],
  roles: ["remote"],
  parse(url) {
    const dir = folderOfFileUrl(url);
    let pollMs = DEFAULT_POLL_MS;
    const seen = new Set<string>();
    for (const [name, value] of url.searchParams) {
      if (name !== "poll")
        throw new InvalidUrlError(
          url.href,
          `unknown option ${JSON.stringify(name)} (known: poll)`,
        );
      if (seen.has(name))
        throw new InvalidUrlError(url.href, `option ${name} given twice`);
      seen.add(name);
      pollMs = Number(value);
      if (
        !/^[0-9]+$/.test(value) ||
        pollMs < MIN_POLL_MS ||
        pollMs > MAX_POLL_MS
      )
        throw new InvalidUrlError(
          url.href,
          `poll must be a whole number of milliseconds from ${MIN_POLL_MS} to ${MAX_POLL_MS}, not ${JSON.stringify(value)}`,
        );
    }
    return { dir, pollMs };
  },
  async open(options) {
    if (!path.isAbsolute(options.dir))
      throw new InvalidArgumentError(
        `open folder gateway: ${JSON.stringify(options.dir)} is not an absolute path`,
      );
    const dir = path.resolve(options.dir);
    // Never created here: a missing shared folder is most likely a share that is not mounted
    // or a typo, and creating it would sync into a local folder no one else sees.
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(dir);
    } catch (error) {
      throw new IoError(`open folder gateway at ${dir}`, { cause: error });
    }
    if (!stat.isDirectory())
      throw new IoError(`open folder gateway at ${dir}`, {
        cause: new Error("not a folder"),
      });
    const url =
      pathToFileURL(dir).href +
      (options.pollMs === DEFAULT_POLL_MS ? "" : `?poll=${options.pollMs}`);
    return new FolderGateway(url, dir, options.pollMs);
  },
};

class FolderGateway implements Gateway {
  readonly url: string;
  readonly #dir: string;
  readonly #pollMs: number;
  #closed = false;
  /** Every call in flight, so close() can let them finish. */
  readonly #pending = new Set<Promise<unknown>>();
  /** putCommit calls in flight by ledger and CID: a putHeads or getCommit issued after one waits for it. */
  readonly #writing = new Map<string, Promise<void>>();
  /** Per ledger: this handle's head operations and watch scans, in call order. */
  readonly #queues = new Map<string, SerialQueue>();
  readonly #watches = new Map<string, FolderWatch>();

  constructor(url: string, dir: string, pollMs: number) {
    this.url = url;
    this.#dir = dir;
    this.#pollMs = pollMs;
  }

  putCommit(ledger: string, cid: CID, bytes: Uint8Array): Promise<void> {
    return this.#call("put commit", ledger, () => {
      const name = cidString(cid);
      const key = writingKey(ledger, name);
      const inFlight = this.#writing.get(key);
      if (inFlight) return inFlight;
      // Copied now: the caller may reuse its buffer before the write gets to it.
      const copy = new Uint8Array(bytes.length);
      copy.set(bytes);
      const write = this.#io(`put commit ${name} of ${subject(ledger)}`, () =>
        writeImmutableFile(this.#commitsDir(ledger), name, copy),
      ).finally(() => {
        if (this.#writing.get(key) === write) this.#writing.delete(key);
      });
      this.#writing.set(key, write);
      return write;
    });
  }

  getCommit(ledger: string, cid: CID): Promise<Uint8Array | undefined> {
    return this.#call("get commit", ledger, async () => {
      const name = cidString(cid);
      await settled(this.#writing.get(writingKey(ledger, name)));
      // A file here was renamed into place whole, so it is never a truncated commit.
      return this.#io(`get commit ${name} of ${subject(ledger)}`, () =>
        readFileIfExists(path.join(this.#commitsDir(ledger), name)),
      );
    });
  }

  getHeads(ledger: string): Promise<HeadSet> {
    return this.#call("get heads", ledger, () =>
      // Queued, so it sees this handle's earlier putHeads even if they were not awaited.
      this.#queue(ledger).run(() => this.#listHeads(ledger)),
    );
  }

  putHeads(ledger: string, update: HeadUpdate): Promise<HeadSet> {
    return this.#call("put heads", ledger, () =>
      this.#queue(ledger).run(async () => {
        await this.#writeHeads(ledger, update);
        this.#watches.get(ledger)?.noteOwnUpdate(update);
        return this.#listHeads(ledger);
      }),
    );
  }

  watch(ledger: string, onHeads: (heads: HeadSet) => void): Unsubscribe {
    checkLedgerName("watch", ledger);
    if (this.#closed) throw new ClosedError(`watch: gateway ${this.url}`);
    let watch = this.#watches.get(ledger);
    if (!watch) {
      const dir = this.#headsDir(ledger);
      watch = new FolderWatch({
        dir,
        pollMs: this.#pollMs,
        queue: this.#queue(ledger),
        list: () => this.#listHeads(ledger),
        ensureDir: () => ensureDir(dir),
      });
      this.#watches.set(ledger, watch);
    }
    const shared = watch;
    const remove = shared.add(onHeads);
    return () => {
      remove();
      if (!shared.isEmpty || this.#watches.get(ledger) !== shared) return;
      this.#watches.delete(ledger);
      this.#track(shared.stop());
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const watch of this.#watches.values()) this.#track(watch.stop());
    this.#watches.clear();
    // Calls made before close finish; every call after it is refused.
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  async #writeHeads(ledger: string, update: HeadUpdate): Promise<void> {
    const add = new Set(update.add.map(cidString));
    const remove = new Set<string>();
    for (const cid of update.remove) {
      const name = cidString(cid);
      // Add wins: a CID both removed and added stays a head.
      if (!add.has(name)) remove.add(name);
    }
    const commits = this.#commitsDir(ledger);
    const heads = this.#headsDir(ledger);
    const operation = `put heads of ${subject(ledger)}`;
    // All or nothing: every added commit is checked before any head file is made.
    await Promise.all(
      [...add].map(async (name) => {
        await settled(this.#writing.get(writingKey(ledger, name)));
        if (
          !(await this.#io(operation, () => isFile(path.join(commits, name))))
        )
          throw new MissingCommitError(ledger, name);
      }),
    );
    await this.#io(operation, async () => {
      // Adds before removes: at no moment does the folder hold fewer heads than it should.
      await Promise.all([...add].map((name) => touchFile(heads, name)));
      const removed = await Promise.all(
        [...remove].map((name) => removeFile(heads, name)),
      );
      // Nothing to make durable when nothing changed (and heads/ may not even exist).
      if (add.size > 0 || removed.includes(true)) await fsyncDir(heads);
    });
  }

  #listHeads(ledger: string): Promise<HeadSet> {
    return this.#io(`get heads of ${subject(ledger)}`, () =>
      listCidFiles(this.#headsDir(ledger)),
    );
  }

  #queue(ledger: string): SerialQueue {
    let queue = this.#queues.get(ledger);
    if (!queue) this.#queues.set(ledger, (queue = new SerialQueue()));
    return queue;
  }

  #commitsDir(ledger: string): string {
    return path.join(this.#dir, encodeLedgerName(ledger), "commits");
  }

  #headsDir(ledger: string): string {
    return path.join(this.#dir, encodeLedgerName(ledger), "heads");
  }

  // Checks run synchronously, at call time: a call made before close() is accepted even if
  // its turn in a queue comes after. Failures are rejections, never synchronous throws.
  #call<T>(
    operation: string,
    ledger: string,
    fn: () => Promise<T>,
  ): Promise<T> {
    let result: Promise<T>;
    try {
      checkLedgerName(operation, ledger);
      if (this.#closed)
        throw new ClosedError(`${operation}: gateway ${this.url}`);
      result = fn();
    } catch (error) {
      return Promise.reject(
        error instanceof Error ? error : new Error(String(error)),
      );
    }
    this.#track(result);
    return result;
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.then(
      () => undefined,
      () => undefined,
    );
    this.#pending.add(tracked);
    void tracked.then(() => this.#pending.delete(tracked));
  }

  // Node's errors become IoError naming the operation; Kiln's own errors pass through as they are.
  async #io<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw error instanceof KilnError
        ? error
        : new IoError(operation, { cause: error });
    }
  }
}

function writingKey(ledger: string, cid: string): string {
  return `${cid}/${ledger}`;
}

function subject(ledger: string): string {
  return `ledger ${JSON.stringify(ledger)}`;
}

/** Waits for a promise without taking on its failure (the waiter reports its own). */
async function settled(promise: Promise<unknown> | undefined): Promise<void> {
  if (promise)
    await promise.then(
      () => undefined,
      () => undefined,
    );
}
