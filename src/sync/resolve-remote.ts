// connect(url): the URL is parsed here, once, into the remote it names and how to reach it.
//   ws(s)://, http(s)://   a Kiln SyncServer (the same base URL serves both transports)
//   memory://room          an in-process room, shared by name (a memory-only remote)
//   file:///folder         a folder shared by several processes or machines
// Every scheme takes ?ledger=<remote ledger name> (default: the local ledger's name); server
// URLs also take ?transport=ws|http to force one transport.
import { folderGateway } from "../gateways/folder-gateway.js";
import type { GatewayFactory } from "../gateways/gateway.js";
import { memoryGateway } from "../gateways/memory-gateway.js";
import type { BackoffOptions } from "../util/backoff.js";
import { toHex, utf8 } from "../util/bytes.js";
import { InvalidUrlError } from "../util/errors.js";
import {
  createFailoverOpener,
  createGatewayOpener,
  createServerOpener,
} from "./remote-opener.js";
import type { RemoteOpener } from "./remote-opener.js";
import type { Transport } from "./remote.js";
import { parseServerEndpoint } from "./server-endpoint.js";
import type { ServerEndpoint } from "./server-endpoint.js";

export interface ConnectOptions {
  /** Bearer token for a SyncServer that requires one (`kiln token`). */
  readonly token?: string;
  /** Backoff between failed sessions (default 250 ms doubling to 30 s, with jitter). */
  readonly backoff?: BackoffOptions;
  /** Backoff before WebSocket is tried again after it failed (default 2 s to 60 s). */
  readonly wsRetry?: BackoffOptions;
  /** Long-poll wait of HTTP sessions (default 25 s). */
  readonly pollWaitMs?: number;
}

/** What resolving a remote needs of the ledger. */
export interface RemoteDeps {
  /** True when the ledger holds the commit (and its ancestors). */
  readonly isKnown: (cid: string) => boolean;
  readonly sha256: (bytes: Uint8Array) => Uint8Array;
}

export interface RemoteTarget {
  /** The URL as given, for display. */
  readonly url: string;
  readonly ledger: string;
  /** Names the remote's sync state: a hash of where it is and which ledger. */
  readonly remoteId: string;
  readonly opener: RemoteOpener;
}

/**
 * Several URLs name one remote: SyncServer processes sharing one backend (see
 * docs/deploy.md). The connection uses one at a time and moves to the next when it fails.
 */
export function resolveRemotes(
  urls: readonly string[],
  localLedger: string,
  options: ConnectOptions,
  deps: RemoteDeps,
): RemoteTarget {
  if (urls.length === 0)
    throw new InvalidUrlError("", "connect: the list of urls is empty");
  if (urls.length === 1)
    return resolveRemote(urls[0]!, localLedger, options, deps);
  const endpoints = urls.map((text) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new InvalidUrlError(text, "not a url");
    }
    if (!["ws:", "wss:", "http:", "https:"].includes(url.protocol))
      throw new InvalidUrlError(
        text,
        "several urls name the processes of one SyncServer: ws(s):// or http(s):// only",
      );
    return parseServerEndpoint(url, localLedger, options.token);
  });
  const ledger = endpoints[0]!.ledger;
  if (endpoints.some((e) => e.ledger !== ledger))
    throw new InvalidUrlError(
      urls.join(" "),
      "several urls of one remote must name the same ledger",
    );
  const where = endpoints
    .map((e) => e.httpUrl)
    .sort()
    .join(" ");
  return {
    url: urls.join(" "),
    ledger,
    remoteId: remoteIdOf(deps.sha256, where, ledger),
    opener: createFailoverOpener(
      endpoints.map((e) => serverOpener(e, options)),
    ),
  };
}

export function resolveRemote(
  text: string,
  localLedger: string,
  options: ConnectOptions,
  deps: RemoteDeps,
): RemoteTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidUrlError(text, "not a url");
  }
  const id = (where: string, ledger: string) =>
    remoteIdOf(deps.sha256, where, ledger);
  switch (url.protocol) {
    case "ws:":
    case "wss:":
    case "http:":
    case "https:": {
      const endpoint = parseServerEndpoint(url, localLedger, options.token);
      return {
        url: text,
        ledger: endpoint.ledger,
        remoteId: id(endpoint.httpUrl, endpoint.ledger),
        opener: serverOpener(endpoint, options),
      };
    }
    case "memory:":
    case "file:": {
      const ledger = url.searchParams.get("ledger") ?? localLedger;
      if (ledger === "") throw new InvalidUrlError(text, "?ledger= is empty");
      url.searchParams.delete("ledger");
      const factory: GatewayFactory =
        url.protocol === "memory:" ? memoryGateway : folderGateway;
      const transport: Transport =
        url.protocol === "memory:" ? "memory" : "file";
      // Parsed now, so a bad URL throws from connect() rather than in the background.
      const parsed = factory.parse(url);
      return {
        url: text,
        ledger,
        remoteId: id(url.href, ledger),
        opener: lazyGatewayOpener(factory, parsed, ledger, transport, deps),
      };
    }
    default:
      throw new InvalidUrlError(
        text,
        `connect: no remote for scheme ${url.protocol} (known: ws, wss, http, https, memory, file)`,
      );
  }
}

function lazyGatewayOpener(
  factory: GatewayFactory,
  parsed: unknown,
  ledger: string,
  transport: Transport,
  deps: RemoteDeps,
): RemoteOpener {
  let inner: Promise<RemoteOpener> | undefined;
  const get = () => {
    inner ??= factory
      .open(parsed)
      .then((g) =>
        createGatewayOpener(g, ledger, transport, deps.isKnown, deps.sha256),
      );
    // A folder that is not mounted yet is retried on the next session.
    inner.catch(() => (inner = undefined));
    return inner;
  };
  return {
    open: async (signal) => (await get()).open(signal),
    close: async () => {
      const opened = inner;
      inner = undefined;
      if (opened) await (await opened.catch(() => undefined))?.close();
    },
  };
}

/** Names a remote's sync state: a hash of where it is and which ledger. */
function remoteIdOf(
  sha256: (bytes: Uint8Array) => Uint8Array,
  where: string,
  ledger: string,
): string {
  return `sync-${toHex(sha256(utf8(`${where}\n${ledger}`))).slice(0, 32)}`;
}

function serverOpener(
  endpoint: ServerEndpoint,
  options: ConnectOptions,
): RemoteOpener {
  return createServerOpener(endpoint, {
    ...(options.wsRetry ? { wsRetry: options.wsRetry } : {}),
  });
}
