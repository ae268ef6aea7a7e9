// The WebSocket client is platform code: the browser's global class, or the `ws` package on
// Node 20 (which has no global WebSocket). Each platform supplies a SocketLoader.

/** The browser-shaped subset of WebSocket the client uses (the `ws` package has it too). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  /** Sends a binary frame. */
  send(data: Uint8Array): void;
  /** Closes the socket. */
  close(code?: number, reason?: string): void;
  /** Called once the socket is open. */
  onopen: ((event: unknown) => void) | null;
  /** Called with each frame received. */
  onmessage: ((event: { data: unknown }) => void) | null;
  /** Called when the socket closed. */
  onclose: ((event: { code: number; reason: string }) => void) | null;
  /** Called when the socket failed. */
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket constructor (the browser's global, or ws on Node). */
export type SocketClass = new (url: string) => SocketLike;

/** Loads the class on first use, so a process that never connects never loads it. */
export type SocketLoader = () => Promise<SocketClass>;
