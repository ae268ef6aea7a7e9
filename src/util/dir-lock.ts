// One process at a time per folder (a file:// ledger, a server's data folder): two processes
// appending to one log would interleave records, and each keeps its index in memory. The lock is a file created exclusively, holding the owner's pid; a
// lock whose process is gone (killed, crashed) is stale and taken over.
import fs from "node:fs";
import path from "node:path";
import { KilnError } from "./errors.js";

export const LOCK_FILE = "lock";

export class LockedError extends KilnError {
  constructor(
    readonly subject: string,
    readonly pid: number,
  ) {
    super(
      "locked",
      `open ${subject}: in use by process ${pid}; it is opened by one process at a time`,
    );
  }
}

/** Takes the lock of `dir` for this process; returns the release function. */
export function acquireLock(dir: string, subject: string): () => void {
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(
        file,
        fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY,
        0o600,
      );
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = readOwner(file);
    if (owner !== undefined && owner !== process.pid && isAlive(owner))
      throw new LockedError(subject, owner);
    // Stale (its process is gone), unreadable, or left by this process: take it over.
    fs.rmSync(file, { force: true });
  }
  throw new LockedError(subject, readOwner(file) ?? -1);
}

function readOwner(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else — still alive.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
