// A page that opens ledgers through the browser entry, for tests driven from Node.
import { openLedger } from "../../../src/index.browser.js";
import type { DocInput, Ledger } from "../../../src/index.browser.js";

const open = new Map<string, Ledger>();

async function ledger(name: string, storage?: string): Promise<Ledger> {
  const key = `${storage ?? ""} ${name}`;
  let found = open.get(key);
  if (!found) {
    found = await openLedger(name, storage ? { storage } : {});
    open.set(key, found);
  }
  return found;
}

let armed: Promise<void> = Promise.resolve();

const out = document.getElementById("out")!;

Object.assign(globalThis, {
  kiln: {
    /** Puts docs one by one, awaiting each; returns the ids written. */
    async putEach(name: string, docs: DocInput[], storage?: string) {
      const l = await ledger(name, storage);
      const ids: string[] = [];
      for (const doc of docs) ids.push((await l.put(doc)).id);
      out.textContent = `${name}: ${(await l.allDocs()).rows.length} docs`;
      return ids;
    },
    /**
     * Arms this tab to open every ledger of `names` at once and put `doc` into each, when
     * any tab calls `release` (a start line shared by tabs); `settle` awaits it.
     */
    armPutInEach(names: string[], doc: DocInput) {
      const start = new BroadcastChannel("kiln-test-start");
      armed = new Promise<void>((resolve) => {
        start.onmessage = () => resolve();
      }).then(async () => {
        start.close();
        await Promise.all(
          names.map(async (name) => (await ledger(name)).put(doc)),
        );
      });
      armed.catch(() => undefined);
    },
    release() {
      const start = new BroadcastChannel("kiln-test-start");
      start.postMessage("go");
      start.close();
    },
    settle: () => armed,
    /**
     * Resolves with the rows of a live query (docs whose `status` is "open") once they hold
     * every id of `ids`.
     */
    async liveUntil(name: string, ids: string[]) {
      const l = await ledger(name);
      return new Promise<string[]>((resolve) => {
        const query = l.live("status", { key: "open" }, ({ rows }) => {
          const have = rows.map((r) => r.id);
          if (ids.every((id) => have.includes(id))) {
            query.stop();
            resolve(have);
          }
        });
      });
    },
    async allDocs(name: string, storage?: string) {
      const l = await ledger(name, storage);
      const rows = (await l.allDocs()).rows;
      out.textContent = `${name}: ${rows.length} docs`;
      return rows.map((r) => r.doc);
    },
    /**
     * Puts `count` docs one by one without end of test in mind: each resolved put is reported
     * to Node through the exposed `kilnResolved` binding (a test kills the browser mid-way).
     */
    async stream(name: string, count: number, storage?: string) {
      const l = await ledger(name, storage);
      const report = (
        globalThis as unknown as {
          kilnResolved: (id: string) => Promise<void>;
        }
      ).kilnResolved;
      for (let i = 0; i < count; i++) {
        const { id } = await l.put({
          _id: `doc-${i}`,
          i,
          pad: "x".repeat(180),
        });
        void report(id);
      }
    },
    /**
     * Puts docs of `bytes` each until a put rejects; the ids that resolved and the error's
     * name and code.
     */
    async fill(name: string, bytes: number, max: number, storage?: string) {
      const l = await ledger(name, storage);
      const ids: string[] = [];
      for (let i = 0; i < max; i++) {
        try {
          ids.push(
            (await l.put({ _id: `fill-${i}`, pad: "q".repeat(bytes) })).id,
          );
        } catch (error) {
          const e = error as { name?: string; code?: string; message?: string };
          return {
            ids,
            error: { name: e.name, code: e.code, message: e.message },
          };
        }
      }
      return { ids, error: undefined };
    },
    /** Writes docs in bulks of `size`. */
    async bulkEach(name: string, docs: DocInput[], size: number) {
      const l = await ledger(name);
      for (let i = 0; i < docs.length; i += size)
        await l.bulk(docs.slice(i, i + size));
    },
    /** True when indexeddb://kiln holds a checkpoint of the ledger (read directly). */
    async hasCheckpoint(name: string) {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const open = indexedDB.open("kiln");
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(new Error(String(open.error)));
      });
      const found = await new Promise<unknown>((resolve, reject) => {
        const get = db
          .transaction("local")
          .objectStore("local")
          .get([name, "checkpoint", ""]);
        get.onsuccess = () => resolve(get.result);
        get.onerror = () => reject(new Error(String(get.error)));
      });
      db.close();
      return found !== undefined;
    },
    /** The IndexedDB databases of the origin. */
    async databases() {
      return (await indexedDB.databases()).map((d) => d.name);
    },
    async close() {
      await Promise.all([...open.values()].map((l) => l.close()));
      open.clear();
    },
  },
});
