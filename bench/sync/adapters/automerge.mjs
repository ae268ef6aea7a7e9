// automerge-repo over its WebSocket adapter, with a sync server (a Repo behind
// WebSocketServerAdapter, sharePolicy false as in automerge-repo-sync-server) in its own
// process. A ledger is ONE Automerge document whose keys are the doc ids, the same shape
// as Yjs's Y.Map and as a Kiln ledger (one sync session carries the whole set). Nothing
// is stored on disk on either side.
import http from "node:http";
import { now, version } from "../timing.mjs";

export const id = "automerge";
/** No acknowledgement reaches the client: the server counts (S2, S3). */
export const ackedUpload = false;
/**
 * A change to a map of n docs costs O(n) in Automerge (10,000 one-doc changes take ~60 s, a
 * 100-doc change a few ms), so the untimed write phase of S2/S3 writes this many docs per
 * change (BENCH_AM_BATCH). That ships fewer, larger changes than the others: in its favour.
 */
export const minWriteBatch = Number(process.env.BENCH_AM_BATCH || 100);

let Repo;
let WebSocketClientAdapter;
let WebSocketServerAdapter;
let parseAutomergeUrl;

export async function load() {
  ({ Repo, parseAutomergeUrl } = await import("@automerge/automerge-repo"));
  ({ WebSocketClientAdapter, WebSocketServerAdapter } =
    await import("@automerge/automerge-repo-network-websocket"));
  return {
    version: version("@automerge/automerge-repo"),
    note: `automerge ${version("@automerge/automerge")}, websocket adapter; one Automerge doc per ledger (docs as its keys), in memory`,
  };
}

export async function probe() {}

/** Server side: a storage-less Repo behind the WebSocket server adapter. */
export async function serve({ host, port }) {
  const { WebSocketServer } = await import("ws");
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  const repo = new Repo({
    network: [new WebSocketServerAdapter(wss)],
    sharePolicy: async () => false,
  });
  await new Promise((resolve, reject) =>
    server.listen(port, host, resolve).on("error", reject),
  );
  return {
    /** Resolves once the server's copy of document `key` (a URL) holds `n` docs. */
    watch({ key, n }) {
      const { documentId } = parseAutomergeUrl(key);
      return new Promise((resolve) => {
        let scheduled = false;
        const check = (handle) => {
          scheduled = false;
          if (handle.isReady() && Object.keys(handle.doc()).length >= n) {
            handle.off("change", onChange);
            resolve({ t: now() });
          }
        };
        let onChange;
        // the handle appears when a client first syncs the document
        const poll = setInterval(() => {
          const handle = repo.handles[documentId];
          if (!handle) return;
          clearInterval(poll);
          // counting keys is O(n): once per burst of changes, not per change
          onChange = () => {
            if (scheduled) return;
            scheduled = true;
            setImmediate(() => check(handle));
          };
          handle.on("change", onChange);
          // a handle made from a peer's first message is not ready until it is applied
          handle.whenReady().then(onChange, () => {});
        }, 1);
      });
    },
    async close() {
      await repo.shutdown();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** `key` is the creator's shareKey: the document's automerge: URL. */
export async function openClient({ host, port, key }) {
  const repo = new Repo({ network: [] });
  let handle = key === undefined ? repo.create() : undefined;
  let found;
  const listeners = [];
  const attach = (h) => {
    h.on("change", ({ patches }) => {
      const ids = new Set();
      for (const p of patches)
        if (p.path.length > 0) ids.add(String(p.path[0]));
      if (ids.size) for (const cb of listeners) cb([...ids]);
    });
  };
  if (handle) attach(handle);
  const ready = () => {
    if (!handle) throw new Error("document not found yet");
    return handle;
  };
  return {
    shareKey: handle?.url,
    connect() {
      // a Repo made without a network adapter is offline until one is added
      repo.networkSubsystem.addNetworkAdapter(
        new WebSocketClientAdapter(`ws://${host}:${port}`),
      );
      if (!handle)
        found = repo.find(key).then((h) => {
          handle = h;
          attach(h);
          const ids = Object.keys(h.doc());
          if (ids.length) for (const cb of listeners) cb(ids);
        });
    },
    async put(doc) {
      ready().change((d) => {
        d[doc._id] = doc;
      });
    },
    async putMany(docs) {
      ready().change((d) => {
        for (const doc of docs) d[doc._id] = doc;
      });
    },
    onChange(cb) {
      listeners.push(cb);
    },
    /** A joiner has found the document; a creator is connected to the server. */
    async caughtUp() {
      if (found) return found;
      while (repo.peers.length === 0)
        await new Promise((r) => setTimeout(r, 2));
    },
    status() {
      return { kind: repo.peers.length ? "connected" : "offline" };
    },
    async count() {
      return Object.keys(ready().doc()).length;
    },
    async close() {
      await repo.shutdown();
    },
  };
}
