// The WebSocket client is platform code: the browser's global class, or the `ws` package on
// Node 20 (which has no global WebSocket). Each platform supplies a SocketLoader.

/** The browser-shaped subset of WebSocket the client uses (the `ws` package has it too). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type SocketClass = new (url: string) => SocketLike;

/** Loads the class on first use, so a process that never connects never loads it. */
export type SocketLoader = () => Promise<SocketClass>;
