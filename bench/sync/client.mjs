// Child entry: one replica (client A or B of S1-S3), alone in its process.
//   node sync/client.mjs
// The coordinator drives it with calls (see the handlers). Every change the replica's
// subscription reports is stamped with timing.now() the moment it arrives; the first
// stamp per doc id is kept, so a later call can ask when a doc (or the n-th doc) arrived.
import { makeDoc } from "../docs.mjs";
import { serveCalls } from "./rpc.mjs";
import { now } from "./timing.mjs";

let client;
const seen = new Map(); // doc id → when the subscription first reported it
const idWaiters = new Map(); // doc id → resolve({ t })
const countWaiters = []; // { n, resolve }
let lastT; // when the latest new id arrived

function arrived(ids) {
  const t = now();
  for (const id of ids) {
    if (seen.has(id)) continue;
    seen.set(id, t);
    lastT = t;
    idWaiters.get(id)?.({ t });
    idWaiters.delete(id);
  }
  for (let i = countWaiters.length - 1; i >= 0; i--)
    if (seen.size >= countWaiters[i].n) {
      countWaiters[i].resolve({ t: lastT, n: seen.size });
      countWaiters.splice(i, 1);
    }
}

serveCalls(
  {
    /** Load the library and open an empty replica (offline). */
    async open({ system, name, host, port, key, replica }) {
      const sys = await import(`./adapters/${system}.mjs`);
      const info = await sys.load();
      client = await sys.openClient({ name, host, port, key, id: replica });
      client.onChange(arrived);
      return { shareKey: client.shareKey, ...info };
    },
    /** Start syncing; returns the time just before the call. */
    connect() {
      const t = now();
      client.connect();
      return { t };
    },
    /** Write doc i; `t` is taken just before the write call. */
    async put({ seed, i }) {
      const doc = makeDoc(seed, i);
      const t = now();
      await client.put(doc);
      return { t, id: doc._id, localMs: now() - t };
    },
    /** Write docs [from, to), `batch` per write call, each call awaited (not timed). */
    async putRange({ seed, from, to, batch = 1 }) {
      const t0 = now();
      for (let i = from; i < to; i += batch) {
        const end = Math.min(to, i + batch);
        if (end - i === 1) await client.put(makeDoc(seed, i));
        else {
          const docs = [];
          for (let k = i; k < end; k++) docs.push(makeDoc(seed, k));
          await client.putMany(docs);
        }
      }
      return { ms: now() - t0 };
    },
    /** When the subscription first reported doc `id` (waits for it). */
    seenId({ id }) {
      const t = seen.get(id);
      if (t !== undefined) return { t };
      return new Promise((resolve) => idWaiters.set(id, resolve));
    },
    /** When the subscription had reported `n` distinct docs (waits for it). */
    seenCount({ n }) {
      if (seen.size >= n) return { t: lastT, n: seen.size };
      return new Promise((resolve) => countWaiters.push({ n, resolve }));
    },
    /** The remote acknowledged every local write (systems with ackedUpload only). */
    async uploaded() {
      if (!client.uploaded)
        throw new Error("this system has no upload acknowledgement");
      await client.uploaded();
      return { t: now() };
    },
    /** Publishes a snapshot to the server (Kiln only); its size and the time it took. */
    async publishSnapshot() {
      if (!client.publishSnapshot)
        throw new Error("this system has no snapshots");
      const t0 = now();
      const { bytes } = await client.publishSnapshot();
      return { ms: now() - t0, bytes };
    },
    async caughtUp() {
      await client.caughtUp();
      return { t: now() };
    },
    async count() {
      return { n: await client.count(), seen: seen.size };
    },
    status() {
      return client?.status?.() ?? { kind: "not open" };
    },
    async close() {
      await client?.close();
      client = undefined;
    },
  },
  () => client?.close(),
);
