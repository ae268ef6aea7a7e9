// The I/O half of compaction: writes a new log holding copies of some records of the old one
// and a closing heads record, then renames it over the old one (a temporary file, fsync,
// rename; the caller fsyncs the folder), so a crash leaves the old or the new log whole.
import { CorruptError } from "../util/errors.js";
import { LOG_MAGIC } from "./log-record.js";
import {
  readFully,
  replaceFileAtomic,
  writeFully,
} from "../util/sync-file-io.js";

const CHUNK = 1 << 20;

/**
 * Copies each record of `records` (ranges of `source`) byte for byte, so a damaged record stays
 * detectably damaged instead of getting a fresh checksum. Returns where each copy starts in
 * the new log and the new log's size. Once it returns, the old log is gone: the caller must
 * fsync the folder and reopen `file`.
 */
export function writeCompactedLog(
  file: string,
  source: number,
  records: readonly { readonly offset: number; readonly length: number }[],
  headsRecord: Uint8Array,
  mode: number,
  subject: string,
): { offsets: number[]; size: number } {
  const offsets: number[] = [];
  let size = LOG_MAGIC.length;
  // The caller fsyncs the folder once it has reopened the new log.
  replaceFileAtomic(
    file,
    (out) => {
      const chunks: Uint8Array[] = [LOG_MAGIC];
      let buffered = 0;
      for (const { offset, length } of records) {
        const record = new Uint8Array(length);
        if (readFully(source, record, offset) < length)
          throw new CorruptError(
            subject,
            `log ends inside the record at ${offset}`,
          );
        offsets.push(size);
        chunks.push(record);
        size += length;
        buffered += length;
        if (buffered >= CHUNK) {
          writeFully(out, Buffer.concat(chunks.splice(0)));
          buffered = 0;
        }
      }
      chunks.push(headsRecord);
      size += headsRecord.length;
      writeFully(out, Buffer.concat(chunks));
    },
    mode,
    { syncDir: false },
  );
  return { offsets, size };
}
