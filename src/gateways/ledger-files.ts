// The key and checkpoint files beside a file:// ledger's log. Both are replaced atomically;
// both are checked when read back, and a damaged one is a CorruptError, never "missing".
import fs from "node:fs";
import path from "node:path";
import { crc32 } from "node:zlib";
import { fromUtf8, utf8 } from "../util/bytes.js";
import { CorruptError, IoError, KilnError } from "../util/errors.js";
import { DIR_MODE, FILE_MODE } from "./file-log.js";
import {
  fsyncDir,
  readFileIfExists,
  replaceFileAtomic,
} from "../util/sync-file-io.js";

export const KEY_FILE = "key";
/**
 * The device's writer key, at the folder's root beside the ledger folders (whose names never
 * start with "." : encodeLedgerName escapes it), so every ledger of the folder shares it.
 */
export const WRITER_FILE = ".writer";
export const CHECKPOINT_FILE = "checkpoint";
export const CHECKPOINT_MAGIC = Uint8Array.of(
  0x4b,
  0x49,
  0x4c,
  0x4e,
  0x43,
  0x4b,
  0x50,
  0x01,
);
const CHECKPOINT_HEADER = CHECKPOINT_MAGIC.length + 4;

/** `{"v":1,"key":"<key>"}`. */
export function encodeKeyFile(key: string): Uint8Array {
  return utf8(`${JSON.stringify({ v: 1, key })}\n`);
}

export function decodeKeyFile(bytes: Uint8Array, subject: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(bytes));
  } catch {
    // No cause attached: JSON.parse quotes the input in its message, and the input is a key.
    throw new CorruptError(subject, "key file is not valid json");
  }
  if (typeof parsed !== "object" || parsed === null)
    throw new CorruptError(subject, "key file is not a json object");
  const { v, key } = parsed as { v?: unknown; key?: unknown };
  if (v !== 1)
    throw new CorruptError(
      subject,
      `unsupported key file version ${JSON.stringify(v)}`,
    );
  if (typeof key !== "string")
    throw new CorruptError(subject, "key file has no key string");
  return key;
}

/** magic "KILNCKP" 0x01, length:u32le, payload, crc32:u32le over everything before it. */
export function encodeCheckpoint(payload: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(CHECKPOINT_HEADER + payload.length + 4);
  out.set(CHECKPOINT_MAGIC, 0);
  out.writeUInt32LE(payload.length, CHECKPOINT_MAGIC.length);
  out.set(payload, CHECKPOINT_HEADER);
  out.writeUInt32LE(
    crc32(out.subarray(0, CHECKPOINT_HEADER + payload.length)),
    CHECKPOINT_HEADER + payload.length,
  );
  return out;
}

export function decodeCheckpoint(
  bytes: Uint8Array,
  subject: string,
): Uint8Array {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (
    buffer.length < CHECKPOINT_HEADER + 4 ||
    !buffer.subarray(0, CHECKPOINT_MAGIC.length).equals(CHECKPOINT_MAGIC)
  ) {
    throw new CorruptError(subject, "checkpoint file has no checkpoint header");
  }
  const length = buffer.readUInt32LE(CHECKPOINT_MAGIC.length);
  if (buffer.length !== CHECKPOINT_HEADER + length + 4)
    throw new CorruptError(
      subject,
      `checkpoint file is ${buffer.length} bytes, its header says ${CHECKPOINT_HEADER + length + 4}`,
    );
  if (
    crc32(buffer.subarray(0, CHECKPOINT_HEADER + length)) !==
    buffer.readUInt32LE(CHECKPOINT_HEADER + length)
  ) {
    throw new CorruptError(subject, "checkpoint file fails its checksum");
  }
  return new Uint8Array(
    buffer.subarray(CHECKPOINT_HEADER, CHECKPOINT_HEADER + length),
  );
}

export function readKeyFile(dir: string, subject: string): string | undefined {
  const bytes = read(path.join(dir, KEY_FILE), `read key of ${subject}`);
  return bytes && decodeKeyFile(bytes, `key of ${subject}`);
}

/**
 * Stores `key` unless a key file exists; returns the stored key. Synchronous, like
 * createWriterFile: the read and the write happen without yielding.
 */
export function createKeyFile(
  dir: string,
  key: string,
  subject: string,
): string {
  const stored = readKeyFile(dir, subject);
  if (stored !== undefined) return stored;
  write(dir, KEY_FILE, encodeKeyFile(key), `put key of ${subject}`);
  return key;
}

export function readWriterFile(root: string): string | undefined {
  const bytes = read(path.join(root, WRITER_FILE), "read writer key");
  return bytes && decodeKeyFile(bytes, "writer key");
}

/**
 * Stores `key` as the writer key unless one is stored; returns the stored one. Synchronous:
 * the read and the write happen without yielding, so two opens in a process cannot both
 * create one (a folder has one process at a time).
 */
export function createWriterFile(root: string, key: string): string {
  const stored = readWriterFile(root);
  if (stored !== undefined) return stored;
  try {
    replaceFileAtomic(
      path.join(root, WRITER_FILE),
      encodeKeyFile(key),
      FILE_MODE,
    );
  } catch (error) {
    throw new IoError("put writer key", { cause: error });
  }
  return key;
}

export function readCheckpointFile(
  dir: string,
  subject: string,
): Uint8Array | undefined {
  const bytes = read(
    path.join(dir, CHECKPOINT_FILE),
    `read checkpoint of ${subject}`,
  );
  return bytes && decodeCheckpoint(bytes, `checkpoint of ${subject}`);
}

export function writeCheckpointFile(
  dir: string,
  payload: Uint8Array,
  subject: string,
): void {
  write(
    dir,
    CHECKPOINT_FILE,
    encodeCheckpoint(payload),
    `put checkpoint of ${subject}`,
  );
}

/** Meta records share the checkpoint file's framing: magic, length, payload, crc32. */
export function readMetaFile(
  dir: string,
  name: string,
  subject: string,
): Uint8Array | undefined {
  const bytes = read(
    path.join(dir, `meta-${name}`),
    `read ${name} of ${subject}`,
  );
  return bytes && decodeCheckpoint(bytes, `${name} of ${subject}`);
}

export function writeMetaFile(
  dir: string,
  name: string,
  payload: Uint8Array,
  subject: string,
): void {
  write(
    dir,
    `meta-${name}`,
    encodeCheckpoint(payload),
    `put ${name} of ${subject}`,
  );
}

function read(file: string, operation: string): Uint8Array | undefined {
  try {
    return readFileIfExists(file);
  } catch (error) {
    throw new IoError(operation, { cause: error });
  }
}

function write(
  dir: string,
  name: string,
  bytes: Uint8Array,
  operation: string,
): void {
  try {
    // A new ledger folder must outlive a power loss too, or the key in it is lost with it.
    if (fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE }) !== undefined)
      fsyncDir(path.dirname(dir));
    replaceFileAtomic(path.join(dir, name), bytes, FILE_MODE);
  } catch (error) {
    throw error instanceof KilnError
      ? error
      : new IoError(operation, { cause: error });
  }
}
