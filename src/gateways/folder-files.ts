// The file operations of the shared-folder remote (folder-gateway.ts has the layout). Every
// change is one whole-file step — create, rename, unlink — so processes and machines that
// share the folder need no lock: nothing is ever rewritten in place.
//
// Asynchronous, unlike the local file gateway's synchronous I/O: a shared folder may be a
// network mount where one call takes milliseconds, and the event loop must not wait on it.
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { CID } from "../blocks/cid.js";
import { cidString, parseCid } from "../blocks/cid.js";
import { EMPTY_HEADS, sortHeads } from "./apply-head-update.js";
import type { HeadSet } from "./gateway.js";

/**
 * Writes `<dir>/<name>` so no reader ever sees part of it: a temporary sibling with a unique
 * name (two writers, on two machines, may write the same commit at once), fsync, rename,
 * fsync of the folder. An existing file is left alone: a CID names immutable bytes, and the
 * caller verifies what it reads, so rewriting it could only lose a race, never fix anything.
 */
export async function writeImmutableFile(
  dir: string,
  name: string,
  bytes: Uint8Array,
): Promise<void> {
  const file = path.join(dir, name);
  if (await isFile(file)) return;
  // A leading dot and a ".tmp" suffix: never a valid CID, so no reader mistakes it for one.
  const tmp = path.join(dir, `.${name}.${randomUUID()}.tmp`);
  let renamed = false;
  try {
    const handle = await openCreating(tmp, "wx");
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.promises.rename(tmp, file);
      renamed = true;
    } catch (error) {
      // Some file systems (Windows, some SMB shares) refuse to rename over a file another
      // writer has just put there; that writer's bytes are the same commit.
      if (!(await isFile(file))) throw error;
    }
  } finally {
    // The failure that got us here is the one to report, not a failed cleanup.
    if (!renamed) await fs.promises.rm(tmp, { force: true }).catch(() => {});
  }
  await fsyncDir(dir);
}

/** The file's bytes, or undefined when it does not exist. */
export async function readFileIfExists(
  file: string,
): Promise<Uint8Array | undefined> {
  try {
    const buffer = await fs.promises.readFile(file);
    // A plain Uint8Array over the same memory: a Buffer's slice() is a view, which surprises
    // callers who expect Uint8Array's copying slice().
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

export async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(file)).isFile();
  } catch (error) {
    if (errorCode(error) === "ENOENT") return false;
    throw error;
  }
}

/** Creates an empty `<dir>/<name>` if it is not there; an existing one is kept as it is. */
export async function touchFile(dir: string, name: string): Promise<void> {
  // "a": create if absent, never truncate. Creating a file is atomic, so no temporary.
  const handle = await openCreating(path.join(dir, name), "a");
  await handle.close();
}

/** Removes `<dir>/<name>`; one already gone is not an error. True when this call removed it. */
export async function removeFile(dir: string, name: string): Promise<boolean> {
  try {
    await fs.promises.unlink(path.join(dir, name));
    return true;
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
    return false;
  }
}

/**
 * The CIDs named by the files of `dir`, sorted as a HeadSet. Anything else is skipped: our own
 * temporaries, a sync tool's conflict copies or metadata ("x (conflicted copy)", ".DS_Store"),
 * and non-canonical spellings of a CID, which would otherwise count one head twice.
 */
export async function listCidFiles(dir: string): Promise<HeadSet> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return EMPTY_HEADS;
    throw error;
  }
  const cids: CID[] = [];
  for (const name of names) {
    const cid = parseCid(name);
    if (cid !== undefined && cidString(cid) === name) cids.push(cid);
  }
  return sortHeads(cids);
}

/**
 * Creates `dir` and any missing parents, and makes each new entry durable in its parent, so a
 * power loss cannot drop a folder whose files were already reported written.
 */
export async function ensureDir(dir: string): Promise<void> {
  const first = await fs.promises.mkdir(dir, { recursive: true });
  if (first === undefined) return;
  for (let at = dir; ; at = path.dirname(at)) {
    await fsyncDir(path.dirname(at));
    if (at === first || at === path.dirname(at)) break;
  }
}

/**
 * Makes the created, renamed or removed entries of `dir` durable. Best effort where the
 * platform has no directory fsync (Windows cannot open a folder; some network file systems
 * refuse the call): there the rename or unlink is as durable as that file system makes it.
 */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(dir, "r");
  } catch (error) {
    if (NO_DIR_FSYNC.has(errorCode(error) ?? "")) return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    if (!NO_DIR_FSYNC.has(errorCode(error) ?? "")) throw error;
  } finally {
    await handle.close();
  }
}

const NO_DIR_FSYNC = new Set(["EISDIR", "EINVAL", "ENOTSUP", "EPERM", "EBADF"]);

export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

// Opens for writing, creating the folder on the first write to it: reading a ledger never
// creates anything, and a folder another process removed comes back.
async function openCreating(
  file: string,
  flags: "wx" | "a",
): Promise<fs.promises.FileHandle> {
  try {
    return await fs.promises.open(file, flags);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
    await ensureDir(path.dirname(file));
    return fs.promises.open(file, flags);
  }
}
