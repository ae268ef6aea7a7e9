// Disk usage of a directory tree, like `du -s` (allocated blocks) and `du -sb` (apparent bytes).
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

/** @returns {Promise<{ apparent: number, allocated: number, files: number }>} */
export async function du(dir) {
  const total = { apparent: 0, allocated: 0, files: 0 };
  async function walk(path) {
    let st;
    try {
      st = await lstat(path);
    } catch (e) {
      if (e.code === "ENOENT") return; // removed while walking (e.g. a temp file)
      throw e;
    }
    total.allocated += (st.blocks ?? 0) * 512;
    if (st.isDirectory()) {
      const names = await readdir(path).catch((e) =>
        e.code === "ENOENT" ? [] : Promise.reject(e),
      );
      for (const name of names) await walk(join(path, name));
    } else {
      total.apparent += st.size;
      total.files += 1;
    }
  }
  await walk(dir);
  return total;
}
