// The file format of the embedded backend: one append-only log per ledger.
//
//   file    = magic ledger-record commits-record*
//   magic   = "KILNSRV" 0x01            8 bytes; the last is the format version
//   record  = type:u8 length:u32le payload crc:u32le      crc32 over type, length and payload
//   type 1  = ledger:  payload = the ledger name as encodeLedgerName() writes it (ASCII)
//   type 2  = commits: payload = count:u32le commit{count}   — one putCommits batch
//   commit  = cidLength:u8 cid parentCount:u32le (cidLength:u8 cid){parentCount}
//             bytesLength:u32le bytes
//
// A commit of bytesLength 0 is a husk: its bytes were dropped (a snapshot covers it) and
// only its CID and parents are kept; dropping rewrites the log (embedded-log.ts, drop).
//
// One record per batch makes a batch all or nothing across a crash as well: a torn record
// fails its crc and is cut off whole. Heads are not stored: they are the commits no later
// commit names as a parent, recomputed while scanning. Encoding is pure; scanning reads
// through a callback so it can run over a file or a buffer.
import { crc32 } from "node:zlib";
import { CID } from "multiformats/cid";
import { InvalidArgumentError } from "../../util/errors.js";
import type { PlannedCommit } from "./plan-put.js";

export const LOG_MAGIC = Uint8Array.of(
  0x4b,
  0x49,
  0x4c,
  0x4e,
  0x53,
  0x52,
  0x56,
  0x01,
);
export const RECORD_LEDGER = 1;
export const RECORD_COMMITS = 2;
const HEADER = 5;
const OVERHEAD = 9;
/**
 * The largest record payload. Far above a SyncServer batch (bounded by its message limit); it
 * bounds what a scan over damaged bytes reads for one candidate record.
 */
export const MAX_PAYLOAD = 256 << 20;

export function encodeLedgerRecord(encodedName: string): Buffer {
  const name = Buffer.from(encodedName, "latin1");
  const record = frame(RECORD_LEDGER, name.length);
  record.set(name, HEADER);
  return seal(record);
}

/**
 * One batch as a record. `bytesAt[i]` is where commit i's bytes start inside the record, so
 * the caller can index them by file offset once it knows where the record lands.
 */
export function encodeCommitsRecord(commits: readonly PlannedCommit[]): {
  record: Buffer;
  bytesAt: number[];
} {
  let length = 4;
  for (const { commit } of commits) {
    length += 1 + cidBytes(commit.cid).length + 4 + 4 + commit.bytes.length;
    for (const parent of commit.parents) length += 1 + cidBytes(parent).length;
  }
  const record = frame(RECORD_COMMITS, length);
  const bytesAt: number[] = [];
  let at = HEADER;
  at = record.writeUInt32LE(commits.length, at);
  const putCid = (cid: CID): void => {
    record[at] = cid.bytes.length;
    record.set(cid.bytes, at + 1);
    at += 1 + cid.bytes.length;
  };
  for (const { commit } of commits) {
    putCid(commit.cid);
    at = record.writeUInt32LE(commit.parents.length, at);
    for (const parent of commit.parents) putCid(parent);
    at = record.writeUInt32LE(commit.bytes.length, at);
    bytesAt.push(at);
    record.set(commit.bytes, at);
    at += commit.bytes.length;
  }
  return { record: seal(record), bytesAt };
}

function cidBytes(cid: CID): Uint8Array {
  if (cid.bytes.length === 0 || cid.bytes.length > 255)
    throw new InvalidArgumentError(
      `encode log record: cid ${cid.toString()} is ${cid.bytes.length} bytes (1-255 fit)`,
    );
  return cid.bytes;
}

function frame(type: number, payloadLength: number): Buffer {
  if (payloadLength > MAX_PAYLOAD)
    throw new InvalidArgumentError(
      `put commits: a batch of ${payloadLength} bytes is more than the ${MAX_PAYLOAD >> 20} MiB a log record holds; split it`,
    );
  const record = Buffer.allocUnsafe(OVERHEAD + payloadLength);
  record[0] = type;
  record.writeUInt32LE(payloadLength, 1);
  return record;
}

function seal(record: Buffer): Buffer {
  const end = record.length - 4;
  record.writeUInt32LE(crc32(record.subarray(0, end)), end);
  return record;
}

/** A commit as read back from a record. Views into the scan's read buffer: copy what you keep. */
export interface ScannedCommit {
  readonly cid: CID;
  readonly parents: readonly Uint8Array[];
  /** File offset of the commit's bytes. */
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** Where a scan stopped early, and why. Everything from `offset` on is not served. */
export interface ScanProblem {
  /** torn-tail: the last record is incomplete, as a crash mid-append leaves it. damaged: a bad record with more data after it. */
  readonly kind: "torn-tail" | "damaged";
  readonly offset: number;
  readonly detail: string;
}

export type ScanResult =
  /** Not even a whole ledger record: the log is new or was torn while being created. */
  | { readonly kind: "empty"; readonly problem: ScanProblem | undefined }
  | {
      readonly kind: "log";
      readonly ledger: string;
      /** Where the intact prefix ends; new records go here. */
      readonly end: number;
      readonly problem: ScanProblem | undefined;
    }
  /** Not a log of this format at all: never truncate it. */
  | { readonly kind: "foreign"; readonly detail: string };

/**
 * Reads a log front to back. `onBatch` gets each intact commits record and returns a reason
 * to refuse it (a commit whose bytes do not hash to its CID, a parent not held), which stops
 * the scan there as damage. `read(offset, length)` returns a view valid until the next call.
 */
export function scanLog(
  size: number,
  read: (offset: number, length: number) => Uint8Array,
  onBatch: (commits: ScannedCommit[]) => string | undefined,
): ScanResult {
  const head = read(0, Math.min(size, LOG_MAGIC.length));
  const isPrefix = head.every((b, i) => b === LOG_MAGIC[i]);
  if (size < LOG_MAGIC.length) {
    if (!isPrefix) return { kind: "foreign", detail: "not a kiln server log" };
    const problem =
      size === 0 ? undefined : torn(0, "log ends inside its magic");
    return { kind: "empty", problem };
  }
  if (!head.subarray(0, 7).every((b, i) => b === LOG_MAGIC[i]))
    return { kind: "foreign", detail: "not a kiln server log (bad magic)" };
  if (!isPrefix)
    return {
      kind: "foreign",
      detail: `unsupported server log version ${head[7]}`,
    };

  // A record at `at`: its type and payload, or why it is not one.
  const recordAt = (
    at: number,
  ): { type: number; payload: Uint8Array } | ScanProblem => {
    if (at + OVERHEAD > size) return torn(at, "log ends inside a record");
    const header = read(at, HEADER);
    const type = header[0]!;
    const length = u32(header, 1);
    const end = at + OVERHEAD + length;
    if (type !== RECORD_LEDGER && type !== RECORD_COMMITS)
      return problemAt(at, end, `unknown record type ${type}`);
    if (length > MAX_PAYLOAD || end > size)
      return torn(at, "log ends inside a record");
    const record = read(at, OVERHEAD + length);
    if (
      crc32(record.subarray(0, HEADER + length)) !==
      u32(record, HEADER + length)
    )
      return problemAt(at, end, "record fails its checksum");
    return { type, payload: record.subarray(HEADER, HEADER + length) };
  };
  // A bad record that reaches the end of the file is what a crash mid-append leaves.
  const problemAt = (at: number, end: number, detail: string): ScanProblem =>
    end >= size ? torn(at, detail) : damaged(at, detail);

  const first = recordAt(LOG_MAGIC.length);
  if ("kind" in first) {
    // Torn while the log was being created: all of it goes.
    if (first.kind === "torn-tail")
      return { kind: "empty", problem: { ...first, offset: 0 } };
    // A damaged ledger record cannot say whose log this is: leave the file alone.
    return {
      kind: "foreign",
      detail: `its ledger record is damaged (${first.detail})`,
    };
  }
  if (first.type !== RECORD_LEDGER)
    return {
      kind: "foreign",
      detail: "log does not start with a ledger record",
    };
  const ledger = Buffer.from(first.payload).toString("latin1");

  let at = LOG_MAGIC.length + OVERHEAD + first.payload.length;
  while (at < size) {
    const record = recordAt(at);
    if ("kind" in record)
      return { kind: "log", ledger, end: at, problem: record };
    const next = at + OVERHEAD + record.payload.length;
    const commits =
      record.type === RECORD_COMMITS
        ? decodeCommits(record.payload, at + HEADER)
        : "a second ledger record";
    const refused = typeof commits === "string" ? commits : onBatch(commits);
    // Refused or unparsable despite a good crc: not a crash artefact, whatever its place.
    if (refused !== undefined)
      return { kind: "log", ledger, end: at, problem: damaged(at, refused) };
    at = next;
  }
  return { kind: "log", ledger, end: at, problem: undefined };
}

/** An intact commits record found past damage: where it was, and a copy of its bytes. */
export interface FoundRecord {
  readonly offset: number;
  readonly record: Uint8Array;
}

/**
 * Scans bytes [from, size) of a log for intact commits records, as a repair does after the
 * first bad record: at each offset, a record header whose checksum verifies is taken (a
 * random match has odds of 2^-32), and the scan goes on after it; anything else moves one
 * byte on. The records come back in file order, copied.
 */
export function findIntactRecords(
  size: number,
  read: (offset: number, length: number) => Uint8Array,
  from: number,
): FoundRecord[] {
  const found: FoundRecord[] = [];
  let at = from;
  while (at + OVERHEAD <= size) {
    const header = read(at, HEADER);
    const length = u32(header, 1);
    if (
      header[0] === RECORD_COMMITS &&
      length <= MAX_PAYLOAD &&
      at + OVERHEAD + length <= size
    ) {
      const record = read(at, OVERHEAD + length);
      if (
        crc32(record.subarray(0, HEADER + length)) ===
          u32(record, HEADER + length) &&
        typeof decodeCommits(record.subarray(HEADER, HEADER + length), 0) !==
          "string"
      ) {
        found.push({ offset: at, record: new Uint8Array(record) });
        at += OVERHEAD + length;
        continue;
      }
    }
    at++;
  }
  return found;
}

/** The commits of a found record, as they are once it is written at file offset `at`. */
export function commitsOfRecord(
  record: Uint8Array,
  at: number,
): ScannedCommit[] {
  const commits = decodeCommits(
    record.subarray(HEADER, record.length - 4),
    at + HEADER,
  );
  if (typeof commits === "string") throw new Error(commits);
  return commits;
}

// The commits of a payload that starts at file offset `base`, or why they do not parse.
function decodeCommits(
  payload: Uint8Array,
  base: number,
): ScannedCommit[] | string {
  const bad = "commits record does not parse";
  if (payload.length < 4) return bad;
  const count = u32(payload, 0);
  const commits: ScannedCommit[] = [];
  let at = 4;
  const takeCid = (): Uint8Array | undefined => {
    const length = payload[at];
    if (
      length === undefined ||
      length === 0 ||
      at + 1 + length > payload.length
    )
      return undefined;
    const bytes = payload.subarray(at + 1, at + 1 + length);
    at += 1 + length;
    return bytes;
  };
  for (let i = 0; i < count; i++) {
    const cidBytes = takeCid();
    if (!cidBytes || at + 4 > payload.length) return bad;
    let cid: CID;
    try {
      // Copied: the payload is a view over a read buffer that gets refilled.
      cid = CID.decode(new Uint8Array(cidBytes));
    } catch {
      return bad;
    }
    const parentCount = u32(payload, at);
    at += 4;
    const parents: Uint8Array[] = [];
    for (let p = 0; p < parentCount; p++) {
      const parent = takeCid();
      if (!parent) return bad;
      parents.push(parent);
    }
    if (at + 4 > payload.length) return bad;
    const length = u32(payload, at);
    at += 4;
    if (at + length > payload.length) return bad;
    commits.push({
      cid,
      parents,
      offset: base + at,
      bytes: payload.subarray(at, at + length),
    });
    at += length;
  }
  return at === payload.length ? commits : bad;
}

function torn(offset: number, detail: string): ScanProblem {
  return { kind: "torn-tail", offset, detail };
}

function damaged(offset: number, detail: string): ScanProblem {
  return { kind: "damaged", offset, detail };
}

function u32(bytes: Uint8Array, at: number): number {
  return (
    (bytes[at]! |
      (bytes[at + 1]! << 8) |
      (bytes[at + 2]! << 16) |
      (bytes[at + 3]! << 24)) >>>
    0
  );
}
