// Yjs over y-websocket: the client is y-websocket 3's WebsocketProvider (with `ws` as its
// WebSocket in Node), the server @y/websocket-server 0.1.1's setupWSConnection (the server
// half that left the y-websocket package in 3.0; 0.1.5 needs the yjs 14 prerelease) in its
// own process. A ledger is one room; each doc is an entry of one Y.Map, its value the plain
// JSON doc. Nothing is stored on disk on either side.
import http from "node:http";
import { now, version } from "../timing.mjs";

export const id = "yjs";
/** No acknowledgement reaches the client: the server counts (S2, S3). */
export const ackedUpload = false;

const MAP = "docs";
let Y;
let WebsocketProvider;
let WebSocket;

export async function load() {
  Y = await import("yjs");
  ({ WebsocketProvider } = await import("y-websocket"));
  WebSocket = (await import("ws")).default;
  return {
    version: version("yjs"),
    note: `y-websocket ${version("y-websocket")} client, @y/websocket-server ${version("@y/websocket-server")}; docs as entries of one Y.Map, in memory`,
  };
}

export async function probe() {}

/** Server side: @y/websocket-server's connection handler, docs kept in memory. */
export async function serve({ host, port }) {
  const { setupWSConnection, getYDoc } =
    await import("@y/websocket-server/utils");
  const { WebSocketServer } = await import("ws");
  const wss = new WebSocketServer({ noServer: true });
  wss.on("connection", setupWSConnection);
  const server = http.createServer((_req, res) => res.end("okay"));
  server.on("upgrade", (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) =>
      wss.emit("connection", ws, req),
    ),
  );
  await new Promise((resolve, reject) =>
    server.listen(port, host, resolve).on("error", reject),
  );
  return {
    /** Resolves once room `name` holds `n` docs on the server. */
    watch({ name, n }) {
      // the same shared doc the room's connections will use (made now if none is open)
      const map = getYDoc(name).getMap(MAP);
      return new Promise((resolve) => {
        let scheduled = false;
        const check = () => {
          scheduled = false;
          if (map.size >= n) {
            map.unobserve(onChange);
            resolve({ t: now() });
          }
        };
        // map.size is O(n): count once per burst of updates
        const onChange = () => {
          if (scheduled) return;
          scheduled = true;
          setImmediate(check);
        };
        map.observe(onChange);
        onChange();
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export async function openClient({ name, host, port }) {
  const doc = new Y.Doc();
  const map = doc.getMap(MAP);
  let provider;
  return {
    shareKey: undefined,
    connect() {
      provider = new WebsocketProvider(`ws://${host}:${port}`, name, doc, {
        WebSocketPolyfill: WebSocket,
        disableBc: true,
      });
    },
    async put(value) {
      map.set(value._id, value);
    },
    async putMany(values) {
      doc.transact(() => {
        for (const value of values) map.set(value._id, value);
      });
    },
    onChange(cb) {
      map.observe((event) => cb([...event.keysChanged]));
    },
    /** The provider's first sync exchange with the server is done. */
    caughtUp() {
      if (provider.synced) return Promise.resolve();
      return new Promise((resolve) =>
        provider.on("sync", (synced) => synced && resolve()),
      );
    },
    status() {
      return { kind: provider?.wsconnected ? "connected" : "offline" };
    },
    async count() {
      return map.size;
    },
    async close() {
      provider?.destroy();
      doc.destroy();
    },
  };
}
