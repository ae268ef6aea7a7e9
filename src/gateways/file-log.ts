// One ledger's append-only log in a file:// store, with its in-memory index (CID → record
// offset) and head set. Writes made in one tick go to the OS in one write(2), in call order;
// fsync durability adds a group-committed fdatasync (group-sync.ts) shared by every caller
// waiting on it.
import fs from "node:fs";
import path from "node:path";
import { parseCid, type CID } from "../blocks/cid.js";
import { createDeferred, type Deferred } from "../util/deferred.js";
import {
  ClosedError,
  CorruptError,
  InvalidArgumentError,
  IoError,
  KilnError,
  MissingCommitError,
} from "../util/errors.js";
import { applyHeadUpdate, EMPTY_HEADS } from "./apply-head-update.js";
import type { HeadSet, HeadUpdate } from "./gateway.js";
import {
  cidFromKey,
  cidKey,
  commitBytesOffset,
  encodeCommitRecord,
  encodeHeadsRecord,
  LOG_MAGIC,
  scanLog,
} from "./log-record.js";
import { GroupSync } from "../util/group-sync.js";
import {
  createWindowReader,
  fsyncDir,
  readFully,
  writeAllParts,
} from "../util/sync-file-io.js";
import { writeCompactedLog } from "./write-compacted-log.js";
import { acquireLock } from "../util/dir-lock.js";

export type Durability = "process" | "fsync";

export const LOG_FILE = "log";
/** Files and folders of a store hold ciphertext and names; only the owner reads them. */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

// Kept small and free of CID objects: a large ledger has one per commit in memory.
interface CommitEntry {
  readonly cidLength: number;
  /** Where the record starts in the file; meaningless while `pending` is set. */
  recordOffset: number;
  readonly recordLength: number;
  readonly damaged: boolean;
  /** The encoded record until its batch is written, so reads see it at once. */
  pending: Uint8Array | undefined;
}

interface Batch {
  readonly records: {
    readonly bytes: Uint8Array;
    readonly entry: CommitEntry | undefined;
  }[];
  /** Reverts the in-memory effects of the batch if writing it fails, newest first. */
  readonly undo: (() => void)[];
  readonly written: Deferred<void>;
  synced: Deferred<void> | undefined;
}

const READ_WINDOW = 1 << 20;

export class FileLog {
  readonly #dir: string;
  readonly #file: string;
  readonly #ledger: string;
  #fd: number | undefined;
  /** File length: every written record ends before it. */
  #end = 0;
  #needsMagic = true;
  readonly #index = new Map<string, CommitEntry>();
  #heads: HeadSet = EMPTY_HEADS;
  #batch: Batch | undefined;
  readonly #sync: GroupSync;
  #failure: KilnError | undefined;
  #unlock: (() => void) | undefined;

  private constructor(dir: string, ledger: string) {
    this.#dir = dir;
    this.#file = path.join(dir, LOG_FILE);
    this.#ledger = ledger;
    this.#sync = new GroupSync(`log of ${this.#subject()}`, () => this.#fd, 0);
  }

  /** Reads the log once (synchronously: the caller's first operation waits for it anyway). */
  static load(dir: string, ledger: string): FileLog {
    const log = new FileLog(dir, ledger);
    log.#load();
    return log;
  }

  get heads(): HeadSet {
    this.#check();
    return this.#heads;
  }

  has(cid: CID): boolean {
    return this.#index.has(cidKey(cid.bytes));
  }

  /** The bytes last stored under `cid`: never verified here, the reader checks the CID. */
  getCommit(cid: CID): Uint8Array | undefined {
    this.#check();
    const entry = this.#index.get(cidKey(cid.bytes));
    if (!entry) return undefined;
    const from = commitBytesOffset(entry.cidLength);
    // A copy: the pending record is a Buffer, whose slice() would be a view of it.
    if (entry.pending)
      return new Uint8Array(
        entry.pending.subarray(from, entry.recordLength - 4),
      );
    const bytes = new Uint8Array(entry.recordLength - 4 - from);
    let got: number;
    try {
      got = readFully(this.#fd!, bytes, entry.recordOffset + from);
    } catch (error) {
      throw new IoError(`read commit ${cid.toString()} of ${this.#subject()}`, {
        cause: error,
      });
    }
    if (got < bytes.length)
      throw new CorruptError(
        this.#subject(),
        `log ends inside commit ${cid.toString()}; was it truncated by another program?`,
      );
    return bytes;
  }

  listCommits(): CID[] {
    this.#check();
    return [...this.#index.keys()].map(cidFromKey);
  }

  /** File bytes, including records not yet written. */
  get size(): number {
    let size = this.#end;
    for (const r of this.#batch?.records ?? []) size += r.bytes.length;
    return size;
  }

  appendCommit(
    cid: CID,
    bytes: Uint8Array,
    durability: Durability,
  ): Promise<void> {
    this.#check();
    const key = cidKey(cid.bytes);
    const existing = this.#index.get(key);
    // A damaged copy is replaced, so a re-put (say, from a sync peer) repairs it.
    if (existing && !existing.damaged) return this.#whenDurable(durability);
    const record = encodeCommitRecord(cid, bytes);
    const entry: CommitEntry = {
      cidLength: cid.bytes.length,
      recordOffset: -1,
      recordLength: record.length,
      damaged: false,
      pending: record,
    };
    this.#index.set(key, entry);
    const done = this.#enqueue(record, entry, durability);
    this.#batch!.undo.push(() =>
      existing ? this.#index.set(key, existing) : this.#index.delete(key),
    );
    return done;
  }

  /** Applies the update now (later calls see it); `done` settles when it is durable. */
  updateHeads(
    update: HeadUpdate,
    durability: Durability,
  ): { heads: HeadSet; changed: boolean; done: Promise<void> } {
    this.#check();
    for (const cid of update.add)
      if (!this.has(cid))
        throw new MissingCommitError(this.#ledger, cid.toString());
    const next = applyHeadUpdate(this.#heads, update);
    if (next === undefined)
      return {
        heads: this.#heads,
        changed: false,
        done: this.#whenDurable(durability),
      };
    const previous = this.#heads;
    this.#heads = next;
    const done = this.#enqueue(encodeHeadsRecord(next), undefined, durability);
    this.#batch!.undo.push(() => (this.#heads = previous));
    return { heads: next, changed: true, done };
  }

  /** Settles once everything accepted so far is as durable as `durability` asks. */
  whenDurable(durability: Durability): Promise<void> {
    this.#check();
    return this.#whenDurable(durability);
  }

  /** Writes the pending batch now instead of on its microtask. */
  flush(): void {
    const batch = this.#batch;
    if (!batch) return;
    this.#batch = undefined;
    const start = this.#end;
    const parts = batch.records.map((r) => r.bytes);
    const magic = this.#needsMagic;
    if (magic) parts.unshift(LOG_MAGIC);
    let written: number;
    try {
      written = writeAllParts(this.#open(), parts);
    } catch (cause) {
      const error = new IoError(`append to log of ${this.#subject()}`, {
        cause,
      });
      this.#cutBack(start);
      for (const undo of batch.undo.reverse()) undo();
      batch.written.reject(error);
      batch.synced?.reject(error);
      return;
    }
    let at = start + (magic ? LOG_MAGIC.length : 0);
    for (const { bytes: record, entry } of batch.records) {
      if (entry) {
        entry.recordOffset = at;
        entry.pending = undefined;
      }
      at += record.length;
    }
    this.#needsMagic = false;
    this.#end = at;
    this.#sync.wrote(written);
    batch.written.resolve();
    const synced = batch.synced;
    if (synced) {
      this.#sync.request().then(
        () => synced.resolve(),
        (error: unknown) => synced.reject(error),
      );
    }
  }

  /** Compaction: rewrites the log with only the kept commits and the current heads. */
  retain(keep: ReadonlySet<string>): void {
    this.#check();
    for (const head of this.#heads) {
      if (!keep.has(head.toString()))
        throw new InvalidArgumentError(
          `retain commits of ${this.#subject()}: head ${head.toString()} is not in the kept set`,
        );
    }
    this.flush();
    this.#check();
    if (this.#fd === undefined) return;
    const keepKeys = new Set<string>();
    for (const text of keep) {
      const cid = parseCid(text);
      if (cid) keepKeys.add(cidKey(cid.bytes));
    }
    const kept = [...this.#index.entries()]
      .filter(([key]) => keepKeys.has(key))
      .sort(([, a], [, b]) => a.recordOffset - b.recordOffset);
    let rewritten: { offsets: number[]; size: number };
    try {
      const records = kept.map(([, entry]) => ({
        offset: entry.recordOffset,
        length: entry.recordLength,
      }));
      rewritten = writeCompactedLog(
        this.#file,
        this.#fd,
        records,
        encodeHeadsRecord(this.#heads),
        FILE_MODE,
        this.#subject(),
      );
    } catch (error) {
      throw error instanceof KilnError
        ? error
        : new IoError(`compact log of ${this.#subject()}`, { cause: error });
    }
    // The new log is in place; failing to make it durable or open it leaves this object
    // unusable, since the old descriptor now writes to an unlinked file.
    this.#sync.retire(this.#fd);
    this.#fd = undefined;
    try {
      fsyncDir(this.#dir);
      this.#fd = fs.openSync(this.#file, "a+", FILE_MODE);
    } catch (error) {
      throw (this.#failure = new IoError(
        `reopen compacted log of ${this.#subject()}`,
        { cause: error },
      ));
    }
    this.#index.clear();
    kept.forEach(([key, entry], i) => {
      entry.recordOffset = rewritten.offsets[i]!;
      this.#index.set(key, entry);
    });
    this.#end = rewritten.size;
    // The rewrite was fsynced whole: everyone waiting for durability has it.
    this.#sync.markSynced();
  }

  /** Writes what is pending, then removes the ledger's folder; this object is done. */
  destroy(): void {
    this.flush();
    this.#unlock = undefined; // removed with the folder
    this.#failure = new ClosedError(`log of ${this.#subject()} (destroyed)`);
    try {
      fs.rmSync(this.#dir, { recursive: true, force: true });
    } catch (error) {
      throw new IoError(`destroy ${this.#subject()}`, { cause: error });
    } finally {
      // Nothing is left to make durable.
      this.#sync.markSynced();
      if (this.#fd !== undefined) this.#sync.retire(this.#fd);
      this.#fd = undefined;
    }
  }

  /** Writes what is pending, waits for fdatasyncs in flight, and closes the file. */
  async close(): Promise<void> {
    this.flush();
    await this.#sync.idle();
    if (this.#fd !== undefined) this.#sync.retire(this.#fd);
    this.#fd = undefined;
    this.#failure ??= new ClosedError(`log of ${this.#subject()}`);
    this.#unlock?.();
    this.#unlock = undefined;
  }

  #load(): void {
    let fd: number;
    try {
      // Read-write in append mode, without O_CREAT: reading a ledger never creates files.
      fd = fs.openSync(this.#file, fs.constants.O_RDWR | fs.constants.O_APPEND);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new IoError(`open log of ${this.#subject()}`, { cause: error });
    }
    try {
      this.#unlock = acquireLock(this.#dir, this.#subject());
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    try {
      const size = fs.fstatSync(fd).size;
      const scan = scanLog(
        size,
        createWindowReader(fd, size, READ_WINDOW),
        ({ key, cidLength, recordOffset, recordLength, damaged }) => {
          // An intact copy wins over a damaged one, whichever came first.
          const existing = this.#index.get(key);
          if (existing && (damaged || !existing.damaged)) return;
          this.#index.set(key, {
            cidLength,
            recordOffset,
            recordLength,
            damaged,
            pending: undefined,
          });
        },
        this.#subject(),
      );
      // A torn tail is what a crash mid-append leaves; cut it so new records follow whole ones.
      if (scan.end < size) fs.ftruncateSync(fd, scan.end);
      this.#heads = scan.heads ?? EMPTY_HEADS;
      this.#end = scan.end;
      this.#sync.wrote(scan.end);
      this.#needsMagic = scan.isNew;
      this.#fd = fd;
    } catch (error) {
      this.#index.clear();
      fs.closeSync(fd);
      throw error instanceof KilnError
        ? error
        : new IoError(`open log of ${this.#subject()}`, { cause: error });
    }
  }

  #open(): number {
    if (this.#fd !== undefined) return this.#fd;
    fs.mkdirSync(this.#dir, { recursive: true, mode: DIR_MODE });
    this.#unlock ??= acquireLock(this.#dir, this.#subject());
    this.#fd = fs.openSync(this.#file, "a+", FILE_MODE);
    // The new file and folder must survive a power loss as well as their contents.
    fsyncDir(this.#dir);
    fsyncDir(path.dirname(this.#dir));
    return this.#fd;
  }

  #enqueue(
    bytes: Uint8Array | undefined,
    entry: CommitEntry | undefined,
    durability: Durability,
  ): Promise<void> {
    let batch = this.#batch;
    if (!batch) {
      batch = this.#batch = {
        records: [],
        undo: [],
        written: handled(createDeferred()),
        synced: undefined,
      };
      queueMicrotask(() => this.flush());
    }
    if (bytes) batch.records.push({ bytes, entry });
    if (durability === "process") return batch.written.promise;
    batch.synced ??= handled(createDeferred());
    return batch.synced.promise;
  }

  #whenDurable(durability: Durability): Promise<void> {
    if (this.#batch) return this.#enqueue(undefined, undefined, durability);
    return durability === "fsync" ? this.#sync.request() : Promise.resolve();
  }

  // Undoes a partial append. If even that fails, the file's tail is unknown and the log
  // refuses further work rather than index records at wrong offsets.
  #cutBack(length: number): void {
    if (this.#fd === undefined) return;
    try {
      fs.ftruncateSync(this.#fd, length);
    } catch (error) {
      this.#failure ??= new IoError(
        `truncate log of ${this.#subject()} after a failed append`,
        { cause: error },
      );
    }
  }

  #check(): void {
    const failure = this.#failure ?? this.#sync.failure;
    if (failure) throw failure;
  }

  #subject(): string {
    return `ledger ${JSON.stringify(this.#ledger)}`;
  }
}

// Marks a deferred's promise as handled: it may be rejected with no caller waiting on it
// (a batch whose callers all asked for the other durability), which must not surface as an
// unhandled rejection. Callers that hold the promise still see the rejection.
function handled<T>(deferred: Deferred<T>): Deferred<T> {
  deferred.promise.catch(() => undefined);
  return deferred;
}
