// The embedded backend: the SyncServer's default storage (`kiln serve` keeps it in
// ./kiln-data), needing no other service. A folder holds one append-only log per ledger
// (embedded-record.ts has the format):
//
//   <dir>/lock                 the owning process's pid: one process at a time
//   <dir>/ledgers/<name>.log   encodeLedgerName(ledger), or a prefix of it + "%~" + a hash
//                              when that is too long for a file name
//   <dir>/snapshots/<name>.snap  the ledger's snapshot, if one was published (snapshot-file.ts)
//   <dir>/revoked-tokens       revoked token ids, one a line, appended and fdatasync'd
//
// A ledger's log is opened on first use and scanned into an in-memory index; commit bytes
// stay on disk (positioned reads, a bounded cache of recent ones). Few descriptors stay
// open at once (OpenFiles). A put resolves once fdatasync'd; puts waiting together share
// one fdatasync per ledger.
import fs from "node:fs";
import path from "node:path";
import { sha256 } from "multiformats/hashes/sha2";
import type { CID } from "../../blocks/cid.js";
import { ClosedError, IoError, KilnError } from "../../util/errors.js";
import { acquireLock, LockedError } from "../../util/dir-lock.js";
import { checkLedgerName, encodeLedgerName } from "../../util/ledger-name.js";
import { fsyncDir } from "../../util/sync-file-io.js";
import type { Backend, LedgerChange } from "../backend.js";
import { ByteCache } from "./byte-cache.js";
import { EmbeddedLog, type LogContext } from "./embedded-log.js";
import { LedgerWatchers } from "./ledger-watchers.js";
import { checkTokenId, RevocationSet } from "./revocation-set.js";
import type { LogRepair } from "./load-log.js";
import { OpenFiles } from "./open-files.js";
import { settle } from "./settle.js";
import { readSnapshotFile, writeSnapshotFile } from "./snapshot-file.js";

export type { LogRepair } from "./load-log.js";

export interface EmbeddedBackendOptions {
  /** Most ledger logs holding an open file descriptor at once (default 128). */
  readonly maxOpenFiles?: number;
  /** Bytes of recently written or read commits kept in memory (default 16 MiB). */
  readonly cacheBytes?: number;
  /**
   * Told when a ledger's log is cut short on open (a torn tail after a crash, or damage):
   * the commits past the cut are no longer served. Logged by the server; default: ignored.
   */
  readonly onRepair?: (repair: LogRepair) => void;
}

export const LEDGERS_DIR = "ledgers";
export const SNAPSHOTS_DIR = "snapshots";
const DIR_MODE = 0o700;
/** Longest encoded name used whole as a file name (file systems allow 255 bytes). */
const MAX_NAME = 200;

// Folders opened by this process. The lock file names a pid, which cannot tell two opens
// in one process apart.
const openInProcess = new Set<string>();

/** Opens (creating if needed) the data folder `dir`; LockedError when another open holds it. */
export function openEmbeddedBackend(
  dir: string,
  options: EmbeddedBackendOptions = {},
): Promise<Backend> {
  // Opening does little I/O (a folder, a lock file): logs are read on first use.
  return settle(() => open(dir, options));
}

function open(dir: string, options: EmbeddedBackendOptions): Backend {
  const root = prepare(dir);
  const subject = `kiln data folder ${root}`;
  if (openInProcess.has(root)) throw new LockedError(subject, process.pid);
  let unlock: () => void;
  try {
    unlock = acquireLock(root, subject);
  } catch (error) {
    throw error instanceof KilnError
      ? error
      : new IoError(`lock ${subject}`, { cause: error });
  }
  openInProcess.add(root);
  const ledgersDir = path.join(root, LEDGERS_DIR);
  const context: LogContext = {
    files: new OpenFiles(options.maxOpenFiles ?? 128),
    cache: new ByteCache(options.cacheBytes ?? 16 << 20),
    onRepair: options.onRepair ?? (() => undefined),
  };
  const logs = new Map<string, EmbeddedLog>();
  // Cache keys of each opened log: a counter, not logs.size, which a delete makes repeat.
  let opens = 0;
  const watchers = new LedgerWatchers();
  let revoked: RevocationSet;
  try {
    revoked = readRevocations(root);
  } catch (error) {
    unlock();
    openInProcess.delete(root);
    throw error;
  }
  let closed: Promise<void> | undefined;

  // The ledger's log, opened (and scanned) on first use. A ledger without a log file is
  // only given one when a put creates it: reads of unknown names leave nothing behind.
  const logOf = (
    operation: string,
    ledger: string,
    create: boolean,
  ): EmbeddedLog | undefined => {
    if (closed) throw new ClosedError("embedded backend");
    checkLedgerName(operation, ledger);
    const open = logs.get(ledger);
    if (open) return open;
    const encoded = encodeLedgerName(ledger);
    const file = path.join(ledgersDir, logFileName(encoded));
    if (!create && !fs.existsSync(file)) return undefined;
    const log = new EmbeddedLog(file, ledger, encoded, context, `${opens++}\0`);
    logs.set(ledger, log);
    return log;
  };

  const snapshotFile = (operation: string, ledger: string): string => {
    if (closed) throw new ClosedError("embedded backend");
    checkLedgerName(operation, ledger);
    const name = logFileName(encodeLedgerName(ledger)).replace(
      /\.log$/,
      ".snap",
    );
    return path.join(root, SNAPSHOTS_DIR, name);
  };

  return {
    revokeToken: (id) =>
      settle(() => {
        if (closed) throw new ClosedError("embedded backend");
        checkTokenId(id);
        if (revoked.has(id)) return;
        appendRevocation(root, id);
        revoked.add(id);
      }),

    revokedTokens: () => settle(() => revoked.list()),

    watchRevocations: (onRevoked) => revoked.watch(onRevoked),

    async putCommits(ledger, commits, origin, quota) {
      const log = logOf("put commits", ledger, true)!;
      const { heads, added, durable } = log.put(commits, quota);
      await durable;
      if (added.length > 0) {
        const cids: CID[] = added.map((c) => c.cid);
        const change: LedgerChange =
          origin === undefined
            ? { heads: [...heads], added: cids, commits: added }
            : { heads: [...heads], added: cids, commits: added, origin };
        watchers.emit(ledger, change);
        return { heads, added: [...cids] };
      }
      return { heads, added: [] };
    },

    getCommits: (ledger, cids) =>
      settle(() => {
        const log = logOf("get commits", ledger, false);
        return cids.map((cid) => log?.read(cid));
      }),

    getMeta: (ledger, cids) =>
      settle(() => {
        const log = logOf("get meta", ledger, false);
        return cids.map((cid) => log?.meta(cid));
      }),

    getHeads: (ledger) =>
      settle(() => logOf("get heads", ledger, false)?.heads() ?? []),

    storedBytes: (ledger) =>
      settle(
        () => logOf("count stored bytes", ledger, false)?.storedBytes() ?? 0,
      ),

    putSnapshot: (ledger, snapshot) =>
      settle(() => {
        const file = snapshotFile("put snapshot", ledger);
        if (
          fs.mkdirSync(path.dirname(file), { recursive: true, mode: DIR_MODE })
        )
          fsyncDir(root);
        writeSnapshotFile(file, snapshot);
      }),

    getSnapshot: (ledger) =>
      settle(() => readSnapshotFile(snapshotFile("get snapshot", ledger))),

    dropCommits: (ledger, cids) =>
      settle(() => logOf("drop commits", ledger, false)?.drop(cids) ?? 0),

    async deleteLedger(ledger) {
      const snapshot = snapshotFile("delete ledger", ledger);
      const log = logs.get(ledger);
      logs.delete(ledger);
      await log?.close();
      const file = path.join(ledgersDir, logFileName(encodeLedgerName(ledger)));
      fs.rmSync(file, { force: true });
      fs.rmSync(snapshot, { force: true });
      fsyncDir(ledgersDir);
      if (fs.existsSync(path.dirname(snapshot)))
        fsyncDir(path.dirname(snapshot));
    },

    watch(ledger, onChange) {
      if (closed) throw new ClosedError("embedded backend");
      checkLedgerName("watch", ledger);
      return watchers.add(ledger, onChange);
    },

    close() {
      closed ??= (async () => {
        try {
          await Promise.all([...logs.values()].map((log) => log.close()));
        } finally {
          watchers.clear();
          revoked.clear();
          context.cache.clear();
          logs.clear();
          unlock();
          openInProcess.delete(root);
        }
      })();
      return closed;
    },
  };
}

export const REVOKED_FILE = "revoked-tokens";

function readRevocations(root: string): RevocationSet {
  const set = new RevocationSet();
  let text = "";
  try {
    text = fs.readFileSync(path.join(root, REVOKED_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT")
      throw new IoError(`read ${REVOKED_FILE} of ${root}`, { cause: error });
  }
  // A line cut short by a crash is at worst a revoked prefix: no token has that id.
  for (const line of text.split("\n"))
    if (/^[A-Za-z0-9_-]{1,128}$/.test(line)) set.add(line);
  return set;
}

function appendRevocation(root: string, id: string): void {
  const file = path.join(root, REVOKED_FILE);
  try {
    const created = !fs.existsSync(file);
    const fd = fs.openSync(file, "a", 0o600);
    try {
      fs.writeSync(fd, `${id}\n`);
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (created) fsyncDir(root);
  } catch (error) {
    throw new IoError(`revoke token in ${root}`, { cause: error });
  }
}

/** Creates the folder if needed and returns its real path (one name per folder for the lock). */
function prepare(dir: string): string {
  try {
    const created = fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    const root = fs.realpathSync(dir);
    const ledgers = path.join(root, LEDGERS_DIR);
    if (
      fs.mkdirSync(ledgers, { recursive: true, mode: DIR_MODE }) !== undefined
    )
      fsyncDir(root);
    if (created !== undefined) fsyncDir(path.dirname(root));
    return root;
  } catch (error) {
    throw error instanceof KilnError
      ? error
      : new IoError(`open kiln data folder ${dir}`, { cause: error });
  }
}

/**
 * The log's file name. An encoded name can be far longer than a file name may be (a 512-char
 * name of non-ASCII characters encodes to thousands); those keep a prefix and a hash of the
 * whole. "%~" never occurs in an encoded name, so the two forms cannot collide; the log's
 * first record holds the whole name either way, and is checked on open.
 */
export function logFileName(encoded: string): string {
  if (encoded.length <= MAX_NAME) return `${encoded}.log`;
  const digest = sha256.digest(Buffer.from(encoded, "latin1"));
  if (digest instanceof Promise) throw new Error("sha256 must be synchronous");
  const hash = Buffer.from(digest.digest).toString("hex").slice(0, 32);
  return `${encoded.slice(0, 120)}%~${hash}.log`;
}
