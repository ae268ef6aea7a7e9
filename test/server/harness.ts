// Shared by the SyncServer tests: real commit envelopes, a server on a loopback port, a
// WebSocket client that reads protocol messages in order, an HTTP client that reads frames,
// and a snapshot of what a backend holds (to prove a refused request changed nothing).
import { CID } from "multiformats/cid";
import { WebSocket } from "ws";
import { cidFor } from "../../src/blocks/cid.js";
import { encodeEnvelope } from "../../src/blocks/envelope.js";
import { nodeCrypto } from "../../src/blocks/node-crypto.js";
import type { Backend, StoredCommit } from "../../src/server/backend.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import {
  createSyncServer,
  type Listener,
  type SyncServer,
  type SyncServerOptions,
} from "../../src/server/index.js";
import {
  CONTENT_TYPE,
  decodeServerMessage,
  encodeMessage,
  FrameReader,
  PROTOCOL_VERSIONS,
  type ClientMessage,
  type ServerMessage,
} from "../../src/sync/protocol/index.js";

export const SECRET = "a-test-secret-of-enough-length";
const MAX = 64 * 1024 * 1024;

/** A sealed-looking commit: a real envelope with random "ciphertext", named by its CID. */
export function makeCommit(
  parents: readonly CID[] = [],
  size = 200,
): StoredCommit {
  const bytes = encodeEnvelope({
    v: 2,
    parents: [...parents],
    iv: nodeCrypto.randomBytes(12),
    data: nodeCrypto.randomBytes(size),
    // Signed in form only: a blind store checks a commit names its writer and signature.
    w: new Uint8Array(32),
    s: new Uint8Array(64),
  });
  return { cid: cidFor(nodeCrypto, bytes), bytes, parents: [...parents] };
}

/** `n` commits, each the child of the one before; the first has `parents`. */
export function makeChain(
  n: number,
  parents: readonly CID[] = [],
  size = 200,
): StoredCommit[] {
  const out: StoredCommit[] = [];
  for (let i = 0; i < n; i++)
    out.push(makeCommit(i === 0 ? parents : [out[i - 1]!.cid], size));
  return out;
}

export const wire = (commits: readonly StoredCommit[]): [CID, Uint8Array][] =>
  commits.map((c) => [c.cid, c.bytes]);

export const str = (cids: readonly CID[] | undefined): string[] =>
  (cids ?? []).map((c) => c.toString()).sort();

/** The sorted head CIDs of a heads, ack or live commits message. */
export function headsOf(message: ServerMessage | undefined): string[] {
  if (
    message?.t !== "heads" &&
    message?.t !== "ack" &&
    message?.t !== "commits"
  )
    throw new Error(`no heads in ${JSON.stringify(message)}`);
  return str(message.heads);
}

export interface Running {
  server: SyncServer;
  backend: Backend;
  listener: Listener;
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

export async function startServer(
  options: Partial<SyncServerOptions> = {},
): Promise<Running> {
  const backend = options.backend ?? createMemoryBackend();
  const server = createSyncServer({ ...options, backend });
  const listener = await server.listen({ port: 0, host: "127.0.0.1" });
  return {
    server,
    backend,
    listener,
    url: `${listener.url}/kiln`,
    wsUrl: `${listener.url.replace("http:", "ws:")}/kiln`,
    async close() {
      await server.close();
      await backend.close();
    },
  };
}

/** A WebSocket client that hands out server messages one at a time, in order. */
export class TestSocket {
  readonly #queue: (ServerMessage | Error)[] = [];
  #waiter: (() => void) | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: Buffer) => {
      try {
        this.#queue.push(decodeServerMessage(new Uint8Array(data), MAX));
      } catch (error) {
        this.#queue.push(error as Error);
      }
      this.#waiter?.();
    });
    this.closed = new Promise((resolve) =>
      ws.once("close", (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.#waiter?.();
      }),
    );
  }

  static async open(
    url: string,
    headers: Record<string, string> = {},
  ): Promise<TestSocket> {
    const ws = new WebSocket(url, { headers });
    const socket = new TestSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return socket;
  }

  /** Opens a socket and says hello; returns it with the welcome. */
  static async hello(url: string, token?: string): Promise<TestSocket> {
    const socket = await TestSocket.open(url);
    socket.send({
      t: "hello",
      id: 0,
      v: [...PROTOCOL_VERSIONS],
      ...(token !== undefined ? { tokens: [token] } : {}),
    });
    const welcome = await socket.next();
    if (welcome.t !== "welcome")
      throw new Error(`expected welcome, got ${JSON.stringify(welcome)}`);
    return socket;
  }

  send(message: ClientMessage): void {
    this.ws.send(encodeMessage(message));
  }

  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data);
  }

  /** The next message from the server; fails after `timeout` ms. */
  async next(timeout = 5_000): Promise<ServerMessage> {
    const deadline = Date.now() + timeout;
    while (this.#queue.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED)
        throw new Error("socket closed while waiting for a message");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a message");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
    const item = this.#queue.shift()!;
    if (item instanceof Error) throw item;
    return item;
  }

  /** Messages until (and including) the one `last` accepts. */
  async until(
    last: (m: ServerMessage) => boolean,
    timeout = 5_000,
  ): Promise<ServerMessage[]> {
    const out: ServerMessage[] = [];
    for (;;) {
      const m = await this.next(timeout);
      out.push(m);
      if (last(m)) return out;
    }
  }

  /** Sends a request and collects the replies until the final one (by type) for its id. */
  async request(
    message: ClientMessage,
    timeout = 5_000,
  ): Promise<ServerMessage[]> {
    this.send(message);
    return this.until(
      (m) =>
        m.t === "error" ||
        (m.t !== "commits" && "id" in m && m.id === message.id),
      timeout,
    );
  }

  /** Messages received and not yet read. */
  get pending(): number {
    return this.#queue.length;
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
  }
}

export interface HttpReply {
  status: number;
  contentType: string | null;
  messages: ServerMessage[];
}

/** POSTs one message (or raw bytes) and reads every frame of the answer. */
export async function post(
  url: string,
  body: ClientMessage | Uint8Array,
  options: { token?: string; contentType?: string; signal?: AbortSignal } = {},
): Promise<HttpReply> {
  const bytes = body instanceof Uint8Array ? body : encodeMessage(body);
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": options.contentType ?? CONTENT_TYPE,
      ...(options.token !== undefined
        ? { authorization: `Bearer ${options.token}` }
        : {}),
    },
    body: bytes as Uint8Array<ArrayBuffer>,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const reader = new FrameReader(MAX);
  const messages: ServerMessage[] = [];
  const raw = new Uint8Array(await response.arrayBuffer());
  for (const frame of reader.push(raw))
    messages.push(decodeServerMessage(frame, MAX));
  reader.end();
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    messages,
  };
}

/** Everything a backend holds for `ledgers`: heads and every commit reachable from them. */
export async function snapshot(
  backend: Backend,
  ledgers: readonly string[],
): Promise<Record<string, { heads: string[]; commits: string[] }>> {
  const out: Record<string, { heads: string[]; commits: string[] }> = {};
  for (const ledger of ledgers) {
    const heads = await backend.getHeads(ledger);
    const seen = new Set<string>();
    const stack = [...heads];
    while (stack.length > 0) {
      const cid = stack.pop()!;
      if (seen.has(cid.toString())) continue;
      seen.add(cid.toString());
      const [meta] = await backend.getMeta(ledger, [cid]);
      const [bytes] = await backend.getCommits(ledger, [cid]);
      if (!meta || !bytes) throw new Error(`backend lost ${cid.toString()}`);
      stack.push(...meta.parents);
    }
    out[ledger] = { heads: str(heads), commits: [...seen].sort() };
  }
  return out;
}

/** Waits until `check` holds, polling on the event loop; fails after `timeout` ms. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeout = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export { CID };
