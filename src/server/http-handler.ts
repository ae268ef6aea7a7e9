// The HTTP transport as a fetch handler: one client message per POST, the answer as a stream
// of length-prefixed frames. It answers at any path, so a SyncServer can live under any base
// URL. Nothing here is specific to Node: the same handler runs in a serverless function.
import {
  CONTENT_TYPE,
  decodeClientMessage,
  frameMessage,
  HTTP_STATUS,
  ProtocolError,
  PROTOCOL_VERSIONS,
  requestIdOf,
  STREAM_CONTENT_TYPE,
} from "../sync/protocol/index.js";
import type {
  ClientMessage,
  Pull,
  ServerMessage,
} from "../sync/protocol/index.js";
import { concat } from "../util/bytes.js";
import { bearerToken } from "./auth.js";
import type { Rights } from "./auth.js";
import { UNAUTHENTICATED_BODY } from "./server-limits.js";
import type { LedgerService, TransportName } from "./ledger-service.js";
import type { OriginPolicy } from "./origin-policy.js";
import { errorReply } from "./server-event.js";
import type { EventSource, ServerLog } from "./server-event.js";

export interface HttpHandlerOptions {
  service: LedgerService;
  isEnabled: (transport: TransportName) => boolean;
  /** Longest a long-poll is held, in milliseconds. */
  pollCap: number;
  /** Aborted when the server closes: held polls answer at once. */
  closing: AbortSignal;
  log: ServerLog;
  /** Which web pages may call (CORS); see origin-policy.ts. */
  origins: OriginPolicy;
}

export class HttpHandler {
  readonly #service: LedgerService;
  readonly #isEnabled: (transport: TransportName) => boolean;
  readonly #pollCap: number;
  readonly #closing: AbortSignal;
  readonly #log: ServerLog;
  readonly #origins: OriginPolicy;
  /** Requests posted so far: names each in the log (EventSource.session). */
  #requests = 0;
  /** Long-polls held now. */
  polls = 0;
  /** POST requests answered. */
  requests = 0;
  /** Bytes of POST bodies read. */
  bytes = 0;

  constructor(options: HttpHandlerOptions) {
    this.#service = options.service;
    this.#isEnabled = options.isEnabled;
    this.#pollCap = options.pollCap;
    this.#closing = options.closing;
    this.#log = options.log;
    this.#origins = options.origins;
  }

  async handle(request: Request): Promise<Response> {
    const origin = request.headers.get("origin");
    // A page of an origin not admitted gets no CORS headers (its browser will not read the
    // answer) and is not served at all (a write must not happen even if unread).
    const response = this.#origins.allows(origin)
      ? await this.#dispatch(request)
      : json(403, {
          error: `origin ${origin} is not allowed (kiln serve --allow-origin, docs/security.md)`,
        });
    for (const [name, value] of Object.entries(
      this.#origins.corsHeaders(origin),
    ))
      response.headers.set(name, value);
    return response;
  }

  async #dispatch(request: Request): Promise<Response> {
    switch (request.method) {
      case "OPTIONS":
        return new Response(null, { status: 204 });
      case "GET":
      case "HEAD":
        return this.#describe(request);
      case "POST":
        this.requests++;
        return this.#post(request);
      default:
        return json(
          405,
          { error: `method ${request.method} is not allowed` },
          {
            allow: "GET, HEAD, POST, OPTIONS",
          },
        );
    }
  }

  #describe(request: Request): Response {
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket")
      return json(426, {
        error:
          "this endpoint cannot upgrade to a WebSocket here; POST messages over HTTP instead",
      });
    return json(200, {
      kiln: {
        versions: PROTOCOL_VERSIONS,
        transports: (["ws", "http"] as const).filter(this.#isEnabled),
        maxMessage: this.#service.maxMessage,
        maxCommits: this.#service.maxCommits,
        auth: this.#service.hasAuth,
      },
    });
  }

  async #post(request: Request): Promise<Response> {
    const source: EventSource = { session: `http-${++this.#requests}` };
    let id: number | undefined;
    try {
      if (this.#closing.aborted)
        throw new ProtocolError("unavailable", "the server is closing");
      const type = request.headers.get("content-type");
      if (type?.split(";")[0]?.trim().toLowerCase() !== CONTENT_TYPE)
        throw new ProtocolError(
          "bad-frame",
          `a request body must have content type ${CONTENT_TYPE}`,
        );
      // The Authorization header's token is checked before a byte of the body is read: a
      // refused request costs the server its headers only. Without one, a server that needs
      // tokens reads at most UNAUTHENTICATED_BODY (room for a hello with its tokens).
      const token = bearerToken(request.headers.get("authorization"));
      const rights =
        token !== undefined || !this.#service.hasAuth
          ? this.#service.authenticate(token !== undefined ? [token] : [])
          : undefined;
      // Like a WebSocket's maxPayload: a body somewhat over the limit is still read, so the
      // too-large error can name its request id; a far larger one is refused unread.
      const bytes =
        rights === undefined
          ? await readBody(
              request,
              UNAUTHENTICATED_BODY,
              () =>
                new ProtocolError(
                  "unauthorized",
                  `a request body over ${UNAUTHENTICATED_BODY} bytes needs a valid token in the Authorization header`,
                ),
            )
          : await readBody(request, 4 * this.#service.maxMessage);
      this.bytes += bytes.length;
      let message: ClientMessage;
      try {
        message = decodeClientMessage(bytes, this.#service.maxMessage);
      } catch (error) {
        id = requestIdOf(bytes);
        throw error;
      }
      id = message.id;
      return await this.#answer(message, request, rights, source);
    } catch (error) {
      const reply = errorReply(error, id, this.#log, "http", source);
      return frames(HTTP_STATUS[reply.reason], [reply]);
    }
  }

  async #answer(
    message: ClientMessage,
    request: Request,
    headerRights: Rights | undefined,
    source: EventSource,
  ): Promise<Response> {
    // Without a verified header, a request other than hello is refused here.
    const authorized = () => headerRights ?? this.#service.authenticate([]);
    switch (message.t) {
      case "hello": {
        const welcome = this.#service.welcome(message);
        if (message.tokens !== undefined)
          this.#service.authenticate(message.tokens);
        else authorized();
        return frames(200, [welcome]);
      }
      case "ping":
        return frames(200, [{ t: "pong", id: message.id }]);
      case "pull": {
        this.#requireHttp();
        const rights = authorized();
        this.#service.authorize(rights, message.ledger, "read");
        return this.#pull(message, request.signal, source);
      }
      case "push": {
        this.#requireHttp();
        const rights = authorized();
        this.#service.authorize(rights, message.ledger, "write");
        // A fresh origin: an HTTP client has no subscription a change could echo to.
        const { ack, uploaded } = await this.#service.push(message, {});
        this.#log({
          kind: "push",
          transport: "http",
          ledger: message.ledger,
          stored: ack.stored,
          ...(uploaded > 0 ? { uploaded } : {}),
          ...source,
        });
        return frames(200, [ack]);
      }
      case "upload": {
        this.#requireHttp();
        const rights = authorized();
        this.#service.authorize(rights, message.ledger, "write");
        return frames(200, [await this.#service.upload(message)]);
      }
      case "delete": {
        this.#requireHttp();
        const rights = authorized();
        this.#service.authorize(rights, message.ledger, "write");
        return frames(200, [await this.#service.deleteLedger(message)]);
      }
      case "publish": {
        this.#requireHttp();
        const rights = authorized();
        this.#service.authorize(rights, message.ledger, "write");
        return frames(200, [await this.#service.publishSnapshot(message)]);
      }
    }
  }

  #requireHttp(): void {
    if (!this.#isEnabled("http"))
      throw new ProtocolError(
        "unavailable",
        "the HTTP transport is turned off on this server; use a WebSocket",
      );
  }

  async #pull(
    pull: Pull,
    signal: AbortSignal,
    source: EventSource,
  ): Promise<Response> {
    const wait = Math.min(pull.wait ?? 0, this.#pollCap);
    const answer: Difference & { changedAt?: number } =
      wait > 0
        ? await this.#longPoll(pull, wait, signal)
        : await this.#service.difference(
            pull.ledger,
            pull.have,
            pull.snapshot === true,
          );
    if (answer.changedAt !== undefined && answer.missing.length > 0)
      this.#log({
        kind: "delivered",
        transport: "http",
        ledger: pull.ledger,
        lag: (performance.now() - answer.changedAt) / 1000,
        ...source,
      });
    return stream(this.#pullFrames(pull, answer, source));
  }

  /** Holds the answer until the ledger changes, `wait` passes, or either side gives up. */
  async #longPoll(
    pull: Pull,
    wait: number,
    signal: AbortSignal,
  ): Promise<Difference & { changedAt?: number }> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    // When the change that woke it was learned of (performance.now), for the fan-out lag.
    let changedAt: number | undefined;
    // Watch before computing the difference, so a change in between still wakes the poll.
    const unwatch = this.#service.watch(pull.ledger, () => {
      changedAt ??= performance.now();
      wake();
    });
    const timer = setTimeout(() => wake(), wait);
    const onAbort = () => wake();
    signal.addEventListener("abort", onAbort);
    this.#closing.addEventListener("abort", onAbort);
    this.polls++;
    if (signal.aborted) wake();
    try {
      const first = await this.#service.difference(
        pull.ledger,
        pull.have,
        pull.snapshot === true,
      );
      if (first.missing.length > 0 || first.snapshot) return first;
      await woken;
      if (this.#closing.aborted)
        throw new ProtocolError("unavailable", "the server is closing");
      const next = await this.#service.difference(
        pull.ledger,
        pull.have,
        pull.snapshot === true,
      );
      return changedAt === undefined ? next : { ...next, changedAt };
    } finally {
      this.polls--;
      unwatch();
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      this.#closing.removeEventListener("abort", onAbort);
    }
  }

  async *#pullFrames(
    pull: Pull,
    { heads, missing, snapshot }: Difference,
    source: EventSource,
  ): AsyncGenerator<Uint8Array, void> {
    try {
      if (snapshot)
        yield frameMessage({
          t: "snapshot",
          id: pull.id,
          ledger: pull.ledger,
          snapshot: [snapshot.cid, snapshot.bytes],
        });
      for await (const batch of this.#service.batches(
        pull.ledger,
        missing,
        pull.id,
      ))
        yield frameMessage(batch);
      yield frameMessage({
        t: "heads",
        id: pull.id,
        ledger: pull.ledger,
        heads,
      });
    } catch (error) {
      // The status line is sent already: the error ends the stream instead.
      yield frameMessage(errorReply(error, pull.id, this.#log, "http", source));
    }
  }
}

type Difference = Awaited<ReturnType<LedgerService["difference"]>>;

/** Reads a request body of at most `max` bytes without buffering more. */
async function readBody(
  request: Request,
  max: number,
  tooLarge = () =>
    new ProtocolError("too-large", `request body exceeds ${max} bytes`),
): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > max) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : concat(chunks);
}

function frames(status: number, messages: ServerMessage[]): Response {
  const body = messages.map(frameMessage);
  const bytes = body.length === 1 ? body[0]! : concat(body);
  return new Response(bytes as Uint8Array<ArrayBuffer>, {
    status,
    headers: streamHeaders(),
  });
}

function stream(source: AsyncGenerator<Uint8Array, void>): Response {
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await source.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel() {
        await source.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: 200, headers: streamHeaders() });
}

function streamHeaders(): Record<string, string> {
  return {
    "content-type": STREAM_CONTENT_TYPE,
    "cache-control": "no-store",
  };
}

function json(
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: {
      ...headers,
      "content-type": "application/json",
      "cache-control": "no-store",
    },
  });
}
