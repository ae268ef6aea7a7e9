// The browser's WebSocket, closed as soon as the browser says it went offline. A socket whose
// network went away can stay open for tens of seconds until a heartbeat notices; the
// `offline` event tells at once, so the connection backs off (and keeps writing to its
// outbox) instead of sending into the void.
import type { SocketClass, SocketLike } from "../sync/socket.js";

interface EventHost {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

export function createBrowserSocket(
  Base: SocketClass,
  host: EventHost | undefined,
): SocketClass {
  if (!host) return Base;
  const events = host;
  return class OfflineAwareSocket {
    readonly #socket: SocketLike;
    readonly #offline = () =>
      this.#socket.close(4000, "the browser went offline");

    constructor(url: string) {
      this.#socket = new Base(url);
      events.addEventListener("offline", this.#offline);
      // Installs the handler that drops the listener, even if no one sets onclose.
      this.onclose = null;
    }

    get binaryType() {
      return this.#socket.binaryType;
    }
    set binaryType(value: string) {
      this.#socket.binaryType = value;
    }
    get readyState() {
      return this.#socket.readyState;
    }
    send(data: Uint8Array): void {
      this.#socket.send(data);
    }
    close(code?: number, reason?: string): void {
      this.#socket.close(code, reason);
    }
    set onopen(fn: SocketLike["onopen"]) {
      this.#socket.onopen = fn;
    }
    get onopen() {
      return this.#socket.onopen;
    }
    set onmessage(fn: SocketLike["onmessage"]) {
      this.#socket.onmessage = fn;
    }
    get onmessage() {
      return this.#socket.onmessage;
    }
    set onerror(fn: SocketLike["onerror"]) {
      this.#socket.onerror = fn;
    }
    get onerror() {
      return this.#socket.onerror;
    }
    set onclose(fn: SocketLike["onclose"]) {
      this.#socket.onclose = (event) => {
        events.removeEventListener("offline", this.#offline);
        fn?.(event);
      };
    }
    get onclose() {
      return this.#socket.onclose;
    }
  };
}
