// Opening a ledger's log: scan it once, rebuild the index and heads, and cut off what must not
// be served — a torn tail left by a crash mid-append, or damage (a record that fails its
// checksum with more data after it, a commit whose bytes do not hash to its CID, a parent
// that is not held). Nothing after the first bad record is served: a commit past it may
// descend from what was lost. Damaged bytes are copied aside before the cut, for a person
// to inspect; a torn tail (an append that never completed, so never acknowledged) is not.
import fs from "node:fs";
import type { CID } from "../../blocks/cid.js";
import { CorruptError, IoError, KilnError } from "../../util/errors.js";
import { createWindowReader, readFully } from "../../util/sync-file-io.js";
import { scanLog, type ScanProblem } from "./embedded-record.js";
import { hashesTo, keyOfBytes, type LogEntry } from "./log-entry.js";

/** A log that was cut short on open: what was cut and why. */
export interface LogRepair extends ScanProblem {
  readonly ledger: string;
  readonly file: string;
  /** Bytes cut off the end of the log. */
  readonly droppedBytes: number;
  /** Where the cut bytes were copied (damage only). */
  readonly savedTo: string | undefined;
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
    const scan = scanLog(
      size,
      createWindowReader(fd, size, READ_WINDOW),
      (commits) => {
        // Checked whole before any is indexed, so a refused batch leaves no trace.
        const batch = new Map<string, LogEntry>();
        const cids: CID[] = [];
        const heightOf = (key: string) =>
          index.get(key)?.height ?? batch.get(key)?.height;
        for (const { cid, parents, offset, bytes } of commits) {
          if (!hashesTo(cid, bytes))
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
      },
    );
    if (scan.kind === "foreign")
      throw new CorruptError(subject, `${file}: ${scan.detail}; left as it is`);
    if (scan.kind === "log" && scan.ledger !== encodedName)
      throw new CorruptError(
        subject,
        `${file} holds ledger ${JSON.stringify(scan.ledger.slice(0, 64))} (names that differ only in case collide on a case-insensitive file system)`,
      );
    const end = scan.kind === "log" ? scan.end : 0;
    if (scan.problem) {
      const savedTo =
        scan.problem.kind === "damaged"
          ? saveTail(fd, end, size, file)
          : undefined;
      fs.ftruncateSync(fd, end);
      onRepair({
        ...scan.problem,
        ledger,
        file,
        droppedBytes: size - end,
        savedTo,
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
