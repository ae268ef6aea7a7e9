// Synchronous file primitives for append-only logs (the file gateway, the embedded server
// backend). Synchronous on purpose: a small write or pread costs microseconds, far less than
// a hop through libuv's thread pool, and doing a step without yielding keeps it atomic with
// respect to every other call in the process.
import fs from "node:fs";
import path from "node:path";

/** Appends or writes all of `bytes`; write(2) may write less than asked. */
export function writeFully(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length)
    done += fs.writeSync(fd, bytes, done, bytes.length - done);
}

/** Appends all of `parts` with one writev(2) when the OS takes them whole, as it nearly always does. */
export function writeAllParts(
  fd: number,
  parts: readonly Uint8Array[],
): number {
  let total = 0;
  for (const part of parts) total += part.length;
  if (parts.length === 1) writeFully(fd, parts[0]!);
  else {
    const done = fs.writevSync(fd, parts);
    if (done < total) writeFully(fd, Buffer.concat(parts).subarray(done));
  }
  return total;
}

/** Reads exactly `into.length` bytes at `position`; returns how many it got before end of file. */
export function readFully(
  fd: number,
  into: Uint8Array,
  position: number,
): number {
  let done = 0;
  while (done < into.length) {
    const n = fs.readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * Reads a file front to back through one reusable buffer of `windowSize` bytes (grown for
 * larger ranges). A returned view is valid only until the next call: copy what you keep.
 */
export function createWindowReader(
  fd: number,
  size: number,
  windowSize: number,
): (offset: number, length: number) => Uint8Array {
  let window = Buffer.allocUnsafe(windowSize);
  let start = 0;
  let filled = 0;
  return (offset, length) => {
    if (offset < start || offset + length > start + filled) {
      if (window.length < length) window = Buffer.allocUnsafe(length);
      start = offset;
      filled = readFully(
        fd,
        window.subarray(0, Math.min(window.length, size - offset)),
        offset,
      );
    }
    return window.subarray(offset - start, offset - start + length);
  };
}

/** Makes a created, renamed or removed entry of `dir` durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replaces `file` so that a crash leaves either the old or the new content whole: write a
 * temporary sibling, fsync it, rename it over the file, fsync the folder. The temporary has
 * a fixed name: each replace runs without yielding, so two never interleave in a process.
 */
export function replaceFileAtomic(
  file: string,
  bytes: Uint8Array | ((fd: number) => void),
  mode: number,
  options: { syncDir?: boolean } = {},
): void {
  const tmp = `${file}.tmp`;
  try {
    const fd = fs.openSync(tmp, "w", mode);
    try {
      // A temporary left by a crash keeps its old mode through "w"; the key file must be 0600.
      fs.fchmodSync(fd, mode);
      if (typeof bytes === "function") bytes(fd);
      else writeFully(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (error) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // The failure that got us here is the one to report.
    }
    throw error;
  }
  if (options.syncDir === false) return;
  fsyncDir(path.dirname(file));
}

/** The file's bytes, or undefined when it does not exist. */
export function readFileIfExists(file: string): Uint8Array | undefined {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
