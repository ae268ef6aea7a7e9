// Node's WebSocket client: the `ws` package (Node 20 has no global WebSocket; 22 has, and it
// is used when present). Loaded on first connect, so a process that never connects never
// loads it. Node-only: the browser entry never reaches this file.
import type { SocketClass, SocketLoader } from "./socket.js";

let socketClass: SocketClass | undefined;

export const loadNodeSocket: SocketLoader = async () => {
  const global = (globalThis as { WebSocket?: SocketClass }).WebSocket;
  if (global) return global;
  socketClass ??= (await import("ws")).WebSocket as unknown as SocketClass;
  return socketClass;
};
