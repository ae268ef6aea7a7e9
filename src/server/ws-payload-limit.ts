// The largest WebSocket message a socket reads, changed per socket. `ws` sets one maxPayload
// for its whole server and offers no per-socket setting, yet a server with a secret must read
// at most a small hello from a socket that has not proved who it is (issue 11: one refused
// socket per attacker, each allowed 32 MiB frames, grew a server by hundreds of MB). `ws`
// 8.23.0 (pinned exactly) checks every frame header, and the running total of a fragmented
// message, against its receiver's `_maxPayload` and closes with 1009 when it is exceeded;
// this sets that field. test/server/hardening.test.ts proves both directions, so an update
// of `ws` that moves the field fails there rather than silently lifting the bound.
import type { WebSocket } from "ws";

interface WithReceiver {
  _receiver?: { _maxPayload?: unknown } | null;
}

/** Sets the largest message `socket` reads; false when this `ws` has no such field. */
export function setMaxPayload(socket: WebSocket, bytes: number): boolean {
  const receiver = (socket as unknown as WithReceiver)._receiver;
  if (!receiver || typeof receiver._maxPayload !== "number") return false;
  receiver._maxPayload = bytes;
  return true;
}
