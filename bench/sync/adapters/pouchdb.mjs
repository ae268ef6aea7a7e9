// PouchDB 9 replicating (`sync`, live + retry) with a CouchDB-protocol server:
// express-pouchdb 4.2.0 over PouchDB 9 with the in-memory adapter, in its own process.
// Replicas use the in-memory adapter too, so neither side pays for disk.
import { createRequire } from "node:module";
import { now, version } from "../timing.mjs";

const require = createRequire(import.meta.url);

export const id = "pouchdb";
/** Nothing on the client says "the server has it all": the server counts (S2, S3). */
export const ackedUpload = false;

let PouchDB;
let MemoryPouch;

export async function load() {
  PouchDB = require("pouchdb");
  PouchDB.plugin(require("pouchdb-adapter-memory"));
  MemoryPouch = PouchDB.defaults({ adapter: "memory" });
  return {
    version: version("pouchdb"),
    note: `memory adapter replicas, live sync (retry) with express-pouchdb ${version("express-pouchdb")} over PouchDB's memory adapter`,
  };
}

export async function probe() {}

/** Server side: express-pouchdb in "minimumForPouchDB" mode, databases in memory. */
export async function serve({ host, port }) {
  const expressPouchdb = require("express-pouchdb");
  const app = expressPouchdb(MemoryPouch, {
    mode: "minimumForPouchDB",
    inMemoryConfig: true,
  });
  const server = await new Promise((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s)).on("error", reject);
  });
  return {
    /** Resolves (with the time) once database `name` holds `n` docs. */
    watch({ name, n }) {
      // memory databases of one name share their store within a process, and PouchDB
      // notifies every instance of a name, so this sees what the server's handlers write
      const db = new MemoryPouch(name);
      const ids = new Set();
      return new Promise((resolve, reject) => {
        const feed = db
          .changes({ since: 0, live: true })
          .on("change", (c) => {
            ids.add(c.id);
            if (ids.size >= n) {
              feed.cancel();
              resolve({ t: now() });
            }
          })
          .on("error", reject);
        if (n === 0) {
          feed.cancel();
          resolve({ t: now() });
        }
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export async function openClient({ name, host, port, id: replica }) {
  // a memory database is shared by name inside a process: give each replica its own
  const local = new MemoryPouch(`${name}-${replica}`);
  await local.info();
  let sync;
  let paused = false;
  const waiters = [];
  return {
    shareKey: undefined,
    connect() {
      const remote = new PouchDB(`http://${host}:${port}/${name}`);
      sync = local
        .sync(remote, { live: true, retry: true })
        .on("paused", (err) => {
          if (err) return;
          paused = true;
          for (const w of waiters.splice(0)) w();
        })
        .on("active", () => (paused = false))
        .on("error", (e) =>
          console.error(`pouchdb sync error: ${e?.message ?? e}`),
        );
    },
    async put(doc) {
      await local.put(doc);
    },
    async putMany(docs) {
      for (const r of await local.bulkDocs(docs))
        if (r.error)
          throw new Error(`bulkDocs: ${r.id} ${r.name}: ${r.message}`);
    },
    onChange(cb) {
      local
        .changes({ since: "now", live: true })
        .on("change", (c) => cb([c.id]));
    },
    /** The first replication round (both directions) went idle. */
    caughtUp() {
      return paused ? Promise.resolve() : new Promise((r) => waiters.push(r));
    },
    status() {
      return { kind: sync ? (paused ? "paused" : "active") : "offline" };
    },
    async count() {
      return (await local.info()).doc_count;
    },
    async close() {
      sync?.cancel();
      await local.close();
    },
  };
}
