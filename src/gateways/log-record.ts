// The record format of a file:// ledger log (docs/gateways.md is the reference):
//
//   file   = magic record*            magic = "KILNLOG" 0x01 (8 bytes, the last is the version)
//   record = type:u8 length:u32le payload:length crc:u32le     crc32 over type+length+payload
//   type 1 = commit: payload = cidLength:u8 cid commitBytes
//   type 2 = heads:  payload = (cidLength:u8 cid)*   — the whole head set after an update
//
// Encoding is pure; scanning reads through a callback so it can run over a file or a buffer.
import { crc32 } from "node:zlib";
import { CID } from "../blocks/cid.js";
import { CorruptError, InvalidArgumentError } from "../util/errors.js";
import { sortHeads } from "./apply-head-update.js";
import type { HeadSet } from "./gateway.js";

export const LOG_MAGIC = Uint8Array.of(
  0x4b,
  0x49,
  0x4c,
  0x4e,
  0x4c,
  0x4f,
  0x47,
  0x01,
);
export const RECORD_COMMIT = 1;
export const RECORD_HEADS = 2;
/** type + length before the payload. */
export const RECORD_HEADER = 5;
/** type + length + crc around the payload. */
export const RECORD_OVERHEAD = 9;
/**
 * The largest payload a record may have. Far above Kiln's commits (a few KB); it bounds what
 * a scan over damaged bytes may read and checksum for one candidate record.
 */
export const MAX_PAYLOAD = 64 << 20;

export function encodeCommitRecord(cid: CID, bytes: Uint8Array): Buffer {
  const cidBytes = cidBytesOf(cid);
  const record = frame(RECORD_COMMIT, 1 + cidBytes.length + bytes.length);
  record[RECORD_HEADER] = cidBytes.length;
  record.set(cidBytes, RECORD_HEADER + 1);
  record.set(bytes, RECORD_HEADER + 1 + cidBytes.length);
  return seal(record);
}

export function encodeHeadsRecord(heads: HeadSet): Buffer {
  let length = 0;
  for (const cid of heads) length += 1 + cidBytesOf(cid).length;
  const record = frame(RECORD_HEADS, length);
  let at = RECORD_HEADER;
  for (const cid of heads) {
    record[at] = cid.bytes.length;
    record.set(cid.bytes, at + 1);
    at += 1 + cid.bytes.length;
  }
  return seal(record);
}

/** Where the commit bytes sit inside a commit record of the given CID length. */
export function commitBytesOffset(cidLength: number): number {
  return RECORD_HEADER + 1 + cidLength;
}

function cidBytesOf(cid: CID): Uint8Array {
  if (cid.bytes.length === 0 || cid.bytes.length > 255)
    throw new InvalidArgumentError(
      `encode log record: cid ${cid.toString()} is ${cid.bytes.length} bytes (1-255 fit)`,
    );
  return cid.bytes;
}

function frame(type: number, payloadLength: number): Buffer {
  if (payloadLength > MAX_PAYLOAD)
    throw new InvalidArgumentError(
      `encode log record: ${payloadLength} bytes is more than the ${MAX_PAYLOAD >> 20} MiB a file:// record holds`,
    );
  const record = Buffer.allocUnsafe(RECORD_OVERHEAD + payloadLength);
  record[0] = type;
  record.writeUInt32LE(payloadLength, 1);
  return record;
}

function seal(record: Buffer): Buffer {
  const end = record.length - 4;
  record.writeUInt32LE(crc32(record.subarray(0, end)), end);
  return record;
}

/**
 * The in-memory index key of a CID: its bytes as a latin1 string. Made natively from the
 * bytes, it costs far less than CID#toString() (base32 built char by char, cached in a
 * WeakMap per CID object), which dominated the time and garbage of opening a large log.
 */
export function cidKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
    "latin1",
  );
}

export function cidFromKey(key: string): CID {
  return CID.decode(new Uint8Array(Buffer.from(key, "latin1")));
}

export interface ScannedCommit {
  /** cidKey() of the commit's CID. */
  readonly key: string;
  readonly cidLength: number;
  readonly recordOffset: number;
  readonly recordLength: number;
  /** The record's crc does not match: its bytes are kept so that a reader's CID check fails loudly. */
  readonly damaged: boolean;
}

export interface LogScan {
  /** The head set of the last intact heads record; undefined when there is none. */
  readonly heads: HeadSet | undefined;
  /** Where readable records end. Anything after it is a torn tail, safe to cut off. */
  readonly end: number;
  /** True when the file is empty or holds only part of the magic (a crash while creating it). */
  readonly isNew: boolean;
  /** Byte ranges that are not intact records but are followed by intact ones. */
  readonly damage: readonly {
    readonly offset: number;
    readonly length: number;
  }[];
}

/**
 * Reads a log once. An intact record is indexed. A bad record followed by intact ones is
 * damage: it is reported and skipped, and if its framing still holds and its CID still
 * parses it is indexed as damaged (so the damage surfaces as an IntegrityError when read,
 * never as a silently missing commit). A bad record with nothing intact after it is a torn
 * tail from a crash mid-append: `end` stops before it.
 *
 * `read(offset, length)` returns a view that is valid until the next call.
 */
export function scanLog(
  size: number,
  read: (offset: number, length: number) => Uint8Array,
  onCommit: (commit: ScannedCommit) => void,
  subject: string,
): LogScan {
  if (size < LOG_MAGIC.length) {
    const start = read(0, size);
    if (start.every((b, i) => b === LOG_MAGIC[i]))
      return { heads: undefined, end: 0, isNew: true, damage: [] };
    throw new CorruptError(subject, "not a kiln log (bad magic)");
  }
  const magic = read(0, LOG_MAGIC.length);
  for (let i = 0; i < LOG_MAGIC.length - 1; i++)
    if (magic[i] !== LOG_MAGIC[i])
      throw new CorruptError(subject, "not a kiln log (bad magic)");
  if (magic[LOG_MAGIC.length - 1] !== LOG_MAGIC[LOG_MAGIC.length - 1])
    throw new CorruptError(
      subject,
      `unsupported log version ${magic[LOG_MAGIC.length - 1]}`,
    );

  // The payload length of a plausibly framed record at `at`, or undefined.
  const frameAt = (at: number): number | undefined => {
    if (at + RECORD_OVERHEAD > size) return undefined;
    const header = read(at, RECORD_HEADER);
    if (header[0] !== RECORD_COMMIT && header[0] !== RECORD_HEADS)
      return undefined;
    const length = readU32(header, 1);
    return length <= MAX_PAYLOAD && at + RECORD_OVERHEAD + length <= size
      ? length
      : undefined;
  };
  const isIntact = (at: number, length: number): boolean => {
    const record = read(at, RECORD_OVERHEAD + length);
    return (
      crc32(record.subarray(0, RECORD_HEADER + length)) ===
      readU32(record, RECORD_HEADER + length)
    );
  };
  const intactAt = (at: number): boolean => {
    const length = frameAt(at);
    return length !== undefined && isIntact(at, length);
  };

  const damage: { offset: number; length: number }[] = [];
  // Only the last intact heads record counts, so earlier ones are never decoded. A damaged
  // heads record is never trusted: the intact one before it stands instead.
  let lastHeads: { offset: number; length: number } | undefined;
  // Returns false when the payload does not parse, which an intact record should never do.
  const take = (at: number, length: number, damaged: boolean): boolean => {
    if (read(at, 1)[0] === RECORD_HEADS) {
      if (!damaged) lastHeads = { offset: at + RECORD_HEADER, length };
      return true;
    }
    // Only the CID is needed here; the commit bytes stay on disk until someone asks.
    const cid = cidKeyAt(
      read(at + RECORD_HEADER, Math.min(length, 256)),
      damaged,
    );
    if (!cid) return false;
    onCommit({
      key: cid.key,
      cidLength: cid.length,
      recordOffset: at,
      recordLength: RECORD_OVERHEAD + length,
      damaged,
    });
    return true;
  };

  let at = LOG_MAGIC.length;
  let end = size;
  while (at < size) {
    const length = frameAt(at);
    if (length !== undefined && isIntact(at, length)) {
      if (!take(at, length, false))
        damage.push({ offset: at, length: RECORD_OVERHEAD + length });
      at += RECORD_OVERHEAD + length;
      continue;
    }
    const framedEnd =
      length === undefined ? undefined : at + RECORD_OVERHEAD + length;
    const next =
      framedEnd !== undefined && intactAt(framedEnd)
        ? framedEnd
        : resync(at + 1, size, intactAt);
    if (next === undefined) {
      end = at;
      break;
    }
    if (length !== undefined && framedEnd === next) take(at, length, true);
    damage.push({ offset: at, length: next - at });
    at = next;
  }
  let heads: HeadSet | undefined;
  if (lastHeads) {
    const payload = read(lastHeads.offset, lastHeads.length);
    const parsed: CID[] = [];
    for (let i = 0; i < payload.length;) {
      const length = payload[i]!;
      try {
        // Copied (new Uint8Array, not Buffer#slice, which is a view): `payload` is a window
        // over a read buffer that gets refilled.
        parsed.push(
          CID.decode(new Uint8Array(payload.subarray(i + 1, i + 1 + length))),
        );
      } catch (error) {
        throw new CorruptError(
          subject,
          `heads record at ${lastHeads.offset - RECORD_HEADER} has a cid that does not parse`,
          { cause: error },
        );
      }
      i += 1 + length;
    }
    heads = sortHeads(parsed);
  }
  return { heads, end, isNew: false, damage };
}

// The first offset from `from` where an intact record starts. A crc32 match at a wrong
// offset has odds of 2^-32 per candidate, and most candidates fail on type or length (both
// checked before any checksum) first.
function resync(
  from: number,
  size: number,
  intactAt: (at: number) => boolean,
): number | undefined {
  for (let at = from; at + RECORD_OVERHEAD <= size; at++)
    if (intactAt(at)) return at;
  return undefined;
}

function cidKeyAt(
  payload: Uint8Array,
  damaged: boolean,
): { key: string; length: number } | undefined {
  const length = payload[0];
  if (length === undefined || length === 0 || 1 + length > payload.length)
    return undefined;
  const bytes = payload.subarray(1, 1 + length);
  // An intact record holds CID bytes exactly as written; damaged ones must still parse.
  if (damaged) {
    try {
      CID.decode(new Uint8Array(bytes));
    } catch {
      return undefined;
    }
  }
  return { key: cidKey(bytes), length };
}

function readU32(bytes: Uint8Array, at: number): number {
  return (
    (bytes[at]! |
      (bytes[at + 1]! << 8) |
      (bytes[at + 2]! << 16) |
      (bytes[at + 3]! << 24)) >>>
    0
  );
}
