// One ledger's log in the embedded backend: the file, an in-memory index (CID → where its
// bytes are, its parents and height) rebuilt by scanning on open, and the head set. A put is
// planned and written in one step without yielding, so concurrent puts never interleave; its
// durability is a group-committed fdatasync shared with every put waiting at the same time.
import fs from "node:fs";
import path from "node:path";
import { cidKey, type CID } from "../../blocks/cid.js";
import {
  ClosedError,
  CorruptError,
  IntegrityError,
  IoError,
  type KilnError,
} from "../../util/errors.js";
import { GroupSync } from "../../util/group-sync.js";
import { fsyncDir, readFully, writeAllParts } from "../../util/sync-file-io.js";
import type { CommitMeta, StoredCommit } from "../backend.js";
import type { ByteCache } from "./byte-cache.js";
import {
  encodeCommitsRecord,
  encodeLedgerRecord,
  LOG_MAGIC,
} from "./embedded-record.js";
import { loadLog, type LogRepair } from "./load-log.js";
import { cidOfKey, hashesTo, type LogEntry } from "./log-entry.js";

/** Bytes of commits per record when a log is rewritten. */
const REWRITE_RECORD = 8 << 20;
import type { OpenFiles } from "./open-files.js";
import { planPut, sortedHeads, type PlannedCommit } from "./plan-put.js";

export const FILE_MODE = 0o600;

/** What a log shares with the other logs of its backend. */
export interface LogContext {
  readonly files: OpenFiles;
  readonly cache: ByteCache;
  readonly onRepair: (repair: LogRepair) => void;
}

export class EmbeddedLog {
  readonly #file: string;
  readonly #ledger: string;
  /** The ledger name as the log's first record holds it. */
  readonly #name: string;
  readonly #context: LogContext;
  readonly #cachePrefix: string;
  readonly #index = new Map<string, LogEntry>();
  #heads: ReadonlyMap<string, CID> = new Map();
  #sorted: CID[] | undefined;
  #fd: number | undefined;
  /** File length: the intact prefix plus everything written since. */
  #end = 0;
  /** Bytes of the commits indexed (storedBytes). */
  #bytes = 0;
  /** Writes not yet durable: the file stays open until they are. */
  #pending = 0;
  readonly #sync: GroupSync;
  #failure: KilnError | undefined;

  /** Opens the log of `ledger` at `file`, scanning (and repairing) it if it exists. */
  constructor(
    file: string,
    ledger: string,
    encodedName: string,
    context: LogContext,
    cachePrefix: string,
  ) {
    this.#file = file;
    this.#ledger = ledger;
    this.#name = encodedName;
    this.#context = context;
    this.#cachePrefix = cachePrefix;
    this.#sync = new GroupSync(`log of ${this.#subject()}`, () => this.#fd, 0);
    const loaded = loadLog(
      file,
      ledger,
      encodedName,
      this.#index,
      context.onRepair,
    );
    if (loaded) {
      this.#fd = loaded.fd;
      this.#end = loaded.end;
      this.#heads = loaded.heads;
      for (const entry of this.#index.values()) this.#bytes += entry.length;
      context.files.use(this);
    }
  }

  /** Bytes of the commits this log serves. */
  storedBytes(): number {
    this.#check();
    return this.#bytes;
  }

  heads(): CID[] {
    this.#check();
    return [...(this.#sorted ??= sortedHeads(this.#heads))];
  }

  /**
   * Plans and writes a batch in one step (a ProtocolError from planPut — missing-commit,
   * too-many-heads, over-quota — leaves the log as it was); `durable` settles once the batch
   * is on stable storage.
   */
  put(
    commits: readonly StoredCommit[],
    quota?: number,
  ): {
    heads: CID[];
    added: StoredCommit[];
    durable: Promise<void>;
  } {
    this.#check();
    const plan = planPut(
      this.#ledger,
      commits,
      (key) => this.#index.get(key)?.height,
      this.#heads,
      { held: this.#bytes, max: quota },
    );
    if (plan.added.length === 0)
      return { heads: this.heads(), added: [], durable: this.#durable() };
    const { record, bytesAt } = encodeCommitsRecord(plan.added);
    const parts: Uint8Array[] = [record];
    const isNew = this.#end === 0;
    if (isNew) parts.unshift(LOG_MAGIC, encodeLedgerRecord(this.#name));
    const start = this.#end;
    let written: number;
    try {
      const fd = this.#open(isNew);
      written = writeAllParts(fd, parts);
      // The new file's name must survive a power loss as well as its contents.
      if (isNew) fsyncDir(path.dirname(this.#file));
    } catch (cause) {
      this.#cutBack(start);
      throw new IoError(`put commits of ${this.#subject()}`, { cause });
    }
    const recordAt = start + written - record.length;
    const added: StoredCommit[] = plan.added.map(
      ({ key, commit, parentKeys, height }, i) => {
        const at = bytesAt[i]!;
        const length = commit.bytes.length;
        this.#index.set(key, {
          offset: recordAt + at,
          length,
          height,
          parents: parentKeys,
        });
        // A view of the record, which nothing else holds: no copy for watchers. The cache
        // gets its own copy (new Uint8Array copies; a Buffer's slice() would not).
        const bytes = new Uint8Array(
          record.buffer,
          record.byteOffset + at,
          length,
        );
        this.#context.cache.set(this.#cachePrefix + key, new Uint8Array(bytes));
        return { cid: commit.cid, bytes, parents: commit.parents };
      },
    );
    this.#heads = plan.heads;
    this.#sorted = undefined;
    this.#bytes += plan.bytes;
    this.#end = start + written;
    this.#sync.wrote(written);
    return { heads: this.heads(), added, durable: this.#durable() };
  }

  /** The bytes of `cid`, checked against it; undefined when not held or dropped. */
  read(cid: CID): Uint8Array | undefined {
    this.#check();
    const key = cidKey(cid);
    const entry = this.#index.get(key);
    if (!entry || entry.length === 0) return undefined;
    const cached = this.#context.cache.get(this.#cachePrefix + key);
    if (cached) return new Uint8Array(cached);
    const bytes = new Uint8Array(entry.length);
    let got: number;
    try {
      got = readFully(this.#open(false), bytes, entry.offset);
    } catch (cause) {
      throw new IoError(`read commit ${cid.toString()} of ${this.#subject()}`, {
        cause,
      });
    }
    if (got < bytes.length)
      throw new CorruptError(
        this.#subject(),
        `log ends inside commit ${cid.toString()}; was it truncated by another program?`,
      );
    // Checked on open too; this catches a file changed under a running server.
    if (!hashesTo(cid, bytes))
      throw new IntegrityError(
        cid.toString(),
        `stored bytes of ${this.#subject()} do not match their cid`,
      );
    this.#context.cache.set(this.#cachePrefix + key, new Uint8Array(bytes));
    return bytes;
  }

  meta(cid: CID): CommitMeta | undefined {
    this.#check();
    const entry = this.#index.get(cidKey(cid));
    if (!entry) return undefined;
    const meta = { parents: entry.parents.map(cidOfKey), height: entry.height };
    return entry.length === 0 ? { ...meta, dropped: true } : meta;
  }

  /**
   * Drops the bytes of `cids` by rewriting the log without them: every commit in height
   * order, each dropped one as a husk (no bytes), into a new file that replaces the log
   * atomically (written, fdatasync'd, renamed over it, the folder fsync'd). In one step
   * without yielding, like a put. Returns how many it dropped.
   */
  drop(cids: readonly CID[]): number {
    this.#check();
    const dropping = new Set<string>();
    for (const cid of cids) {
      const key = cidKey(cid);
      if ((this.#index.get(key)?.length ?? 0) > 0) dropping.add(key);
    }
    if (dropping.size === 0) return 0;
    const entries = [...this.#index].sort(
      ([a, x], [b, y]) => x.height - y.height || (a < b ? -1 : 1),
    );
    const temp = `${this.#file}.rewrite`;
    let fd: number | undefined;
    const placed = new Map<string, LogEntry>();
    try {
      fd = fs.openSync(temp, "w", FILE_MODE);
      let end = writeAllParts(fd, [LOG_MAGIC, encodeLedgerRecord(this.#name)]);
      const none = new Uint8Array(0);
      for (let at = 0; at < entries.length;) {
        // Records of about REWRITE_RECORD bytes: a scan reads one record at a time.
        const batch: PlannedCommit[] = [];
        let size = 0;
        for (; at < entries.length && size < REWRITE_RECORD; at++) {
          const [key, entry] = entries[at]!;
          const cid = cidOfKey(key);
          const bytes = dropping.has(key) ? none : (this.read(cid) ?? none);
          size += bytes.length + 64;
          batch.push({
            key,
            commit: { cid, bytes, parents: entry.parents.map(cidOfKey) },
            parentKeys: [...entry.parents],
            height: entry.height,
          });
        }
        const { record, bytesAt } = encodeCommitsRecord(batch);
        end += writeAllParts(fd, [record]);
        const recordAt = end - record.length;
        batch.forEach(({ key, commit, parentKeys, height }, i) =>
          placed.set(key, {
            offset: recordAt + bytesAt[i]!,
            length: commit.bytes.length,
            height,
            parents: parentKeys,
          }),
        );
      }
      fs.fdatasyncSync(fd);
      fs.closeSync(fd);
      fd = undefined;
      fs.renameSync(temp, this.#file);
      fsyncDir(path.dirname(this.#file));
      // The old file's descriptor reads the old inode: reopen on next use.
      this.#closeFile();
      for (const key of dropping) this.#bytes -= this.#index.get(key)!.length;
      for (const [key, entry] of placed) this.#index.set(key, entry);
      for (const key of dropping)
        this.#context.cache.delete(this.#cachePrefix + key);
      this.#end = end;
    } catch (cause) {
      if (fd !== undefined) fs.closeSync(fd);
      fs.rmSync(temp, { force: true });
      throw new IoError(`drop commits of ${this.#subject()}`, { cause });
    }
    return dropping.size;
  }

  closeFileIfIdle(): boolean {
    if (this.#pending > 0) return false;
    this.#closeFile();
    return true;
  }

  /** Waits for fdatasyncs in flight and closes the file; later calls get ClosedError. */
  async close(): Promise<void> {
    await this.#sync.idle();
    this.#closeFile();
    this.#failure ??= new ClosedError(`log of ${this.#subject()}`);
  }

  #durable(): Promise<void> {
    this.#pending++;
    return this.#sync.request().finally(() => {
      if (--this.#pending === 0) this.#context.files.trim();
    });
  }

  #open(create: boolean): number {
    if (this.#fd === undefined) {
      const flags =
        fs.constants.O_RDWR |
        fs.constants.O_APPEND |
        (create ? fs.constants.O_CREAT : 0);
      this.#fd = fs.openSync(this.#file, flags, FILE_MODE);
    }
    this.#context.files.use(this);
    return this.#fd;
  }

  #closeFile(): void {
    if (this.#fd !== undefined) this.#sync.retire(this.#fd);
    this.#fd = undefined;
    this.#context.files.forget(this);
  }

  // Undoes a partial append. If even that fails, the file's tail is unknown and the log
  // refuses further work rather than index records at wrong offsets.
  #cutBack(length: number): void {
    if (this.#fd === undefined) return;
    try {
      fs.ftruncateSync(this.#fd, length);
    } catch (cause) {
      this.#failure ??= new IoError(
        `truncate log of ${this.#subject()} after a failed append`,
        { cause },
      );
    }
  }

  #check(): void {
    const failure = this.#failure ?? this.#sync.failure;
    if (failure) throw failure;
  }

  #subject(): string {
    return `ledger ${JSON.stringify(this.#ledger.slice(0, 64))}`;
  }
}
