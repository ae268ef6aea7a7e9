// Opening a ledger's log: scan it once, rebuild the index and heads, and repair what must not
// be served — a torn tail left by a crash mid-append, or damage (a record that fails its
// checksum, a commit whose bytes do not hash to its CID, a parent that is not held). Whatever
// is cut is first copied aside (`<log>.damaged-at-<offset>`), torn tails included: one
// flipped byte in a length field looks exactly like a torn tail (issue 11). The bytes after
// the first bad record are then scanned forward for intact records, and each whose parents
// are all held is written back and served; the rest stays only in the copy, for a person (or
// a client re-pushing) to restore.
import fs from "node:fs";
import type { CID } from "../../blocks/cid.js";
import { CorruptError, IoError, KilnError } from "../../util/errors.js";
import { createWindowReader, readFully } from "../../util/sync-file-io.js";
import {
  commitsOfRecord,
  findIntactRecords,
  scanLog,
  type ScanProblem,
  type ScannedCommit,
} from "./embedded-record.js";
import { hashesTo, keyOfBytes, type LogEntry } from "./log-entry.js";

/** A log that was cut short on open: what was cut and why. */
export interface LogRepair extends ScanProblem {
  readonly ledger: string;
  readonly file: string;
  /** Bytes cut off the end of the log. */
  readonly droppedBytes: number;
  /** Where the cut bytes were copied. */
  readonly savedTo: string | undefined;
  /** Commits found intact past the bad record, written back and served again. */
  readonly recovered: number;
}

const READ_WINDOW = 1 << 20;

/** Fills `index`; undefined when the log does not exist yet. */
export function loadLog(
  file: string,
  ledger: string,
  encodedName: string,
  index: Map<string, LogEntry>,
  onRepair: (repair: LogRepair) => void,
): { fd: number; end: number; heads: Map<string, CID> } | undefined {
  const subject = `ledger ${JSON.stringify(ledger.slice(0, 64))}`;
  let fd: number;
  try {
    // Without O_CREAT: reading a ledger never creates its file.
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_APPEND);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new IoError(`open log of ${subject}`, { cause });
  }
  try {
    const heads = new Map<string, CID>();
    const size = fs.fstatSync(fd).size;
    const read = createWindowReader(fd, size, READ_WINDOW);
    const indexBatch = (commits: ScannedCommit[]): string | undefined => {
      // Checked whole before any is indexed, so a refused batch leaves no trace.
      const batch = new Map<string, LogEntry>();
      const cids: CID[] = [];
      const heightOf = (key: string) =>
        index.get(key)?.height ?? batch.get(key)?.height;
      for (const { cid, parents, offset, bytes } of commits) {
        // No bytes: a husk, the meta of a commit whose bytes were dropped (dropCommits).
        if (bytes.length > 0 && !hashesTo(cid, bytes))
          return `commit ${cid.toString()} does not hash to its cid`;
        const key = keyOfBytes(cid.bytes);
        // Never written twice (puts skip held commits); tolerated like a put would.
        if (index.has(key) || batch.has(key)) continue;
        let height = 1;
        const parentKeys: string[] = [];
        for (const parent of parents) {
          const parentKey = keyOfBytes(parent);
          const parentHeight = heightOf(parentKey);
          if (parentHeight === undefined)
            return `commit ${cid.toString()} has a parent that is not held`;
          height = Math.max(height, parentHeight + 1);
          parentKeys.push(parentKey);
        }
        batch.set(key, {
          offset,
          length: bytes.length,
          height,
          parents: parentKeys,
        });
        cids.push(cid);
      }
      // The batch is whole: index it and move the heads past it, in log order.
      let i = 0;
      for (const [key, entry] of batch) {
        index.set(key, entry);
        for (const parentKey of entry.parents) heads.delete(parentKey);
        heads.set(key, cids[i++]!);
      }
      return undefined;
    };
    const scan = scanLog(size, read, indexBatch);
    if (scan.kind === "foreign")
      throw new CorruptError(subject, `${file}: ${scan.detail}; left as it is`);
    if (scan.kind === "log" && scan.ledger !== encodedName)
      throw new CorruptError(
        subject,
        `${file} holds ledger ${JSON.stringify(scan.ledger.slice(0, 64))} (names that differ only in case collide on a case-insensitive file system)`,
      );
    let end = scan.kind === "log" ? scan.end : 0;
    if (scan.problem) {
      const cutAt = end;
      const found =
        scan.kind === "log" ? findIntactRecords(size, read, cutAt + 1) : [];
      const savedTo = saveTail(fd, cutAt, size, file);
      fs.ftruncateSync(fd, cutAt);
      // Intact records past the damage go back in, in their order, when their parents are
      // held (each is checked and indexed at the offset it is written to).
      let recovered = 0;
      for (const { record } of found) {
        const commits = commitsOfRecord(record, end);
        if (indexBatch(commits) !== undefined) continue;
        writeFully(fd, record, end);
        end += record.length;
        recovered += commits.length;
      }
      onRepair({
        ...scan.problem,
        ledger,
        file,
        droppedBytes: size - cutAt,
        savedTo,
        recovered,
      });
    }
    // What was read back may not be durable (a killed process leaves unsynced appends in the
    // page cache) and is served from now on; a repair's truncation must stick too. On a log
    // with nothing dirty this costs next to nothing.
    fs.fdatasyncSync(fd);
    return { fd, end, heads };
  } catch (error) {
    index.clear();
    fs.closeSync(fd);
    throw error instanceof KilnError
      ? error
      : new IoError(`open log of ${subject}`, { cause: error });
  }
}

function writeFully(fd: number, bytes: Uint8Array, at: number): void {
  for (let done = 0; done < bytes.length;)
    done += fs.writeSync(fd, bytes, done, bytes.length - done, at + done);
}

// Copies bytes [from, size) of the log to a new sibling file named after the offset.
function saveTail(
  fd: number,
  from: number,
  size: number,
  file: string,
): string {
  let target = `${file}.damaged-at-${from}`;
  let out: number | undefined;
  for (let n = 2; out === undefined; n++) {
    try {
      out = fs.openSync(target, "wx", 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || n > 100)
        throw error;
      target = `${file}.damaged-at-${from}-${n}`;
    }
  }
  try {
    const chunk = new Uint8Array(Math.min(READ_WINDOW, size - from));
    for (let at = from; at < size;) {
      const got = readFully(
        fd,
        chunk.subarray(0, Math.min(chunk.length, size - at)),
        at,
      );
      if (got === 0) break;
      fs.writeSync(out, chunk, 0, got);
      at += got;
    }
    fs.fsyncSync(out);
  } finally {
    fs.closeSync(out);
  }
  return target;
}
