// connect(url): the URL resolves through the gateway registry (role "remote"), once, into the
// remote it names and how to reach it. Every scheme takes ?ledger=<remote ledger name>
// (default: the local ledger's name); SyncServer URLs also take ?transport=ws|http.
import type { Gateway, GatewayFactory } from "../gateways/gateway.js";
import type { Registry } from "../gateways/registry.js";
import { toHex, utf8 } from "../util/bytes.js";
import { InvalidUrlError } from "../util/errors.js";
import { isRemoteFactory } from "./remote-factory.js";
import type {
  ConnectOptions,
  RemoteDeps,
  RemotePlan,
} from "./remote-factory.js";
import { createFailoverOpener, createGatewayOpener } from "./remote-opener.js";
import type { RemoteOpener } from "./remote-opener.js";
import type { Transport } from "./remote.js";

export type { ConnectOptions, RemoteDeps };

export interface RemoteTarget {
  /** The URL as given, for display. */
  readonly url: string;
  readonly ledger: string;
  /** Names the remote's sync state: a hash of where it is and which ledger. */
  readonly remoteId: string;
  readonly opener: RemoteOpener;
}

/**
 * One remote from one URL, or from several naming one remote reached through several
 * servers (SyncServer processes sharing one backend, docs/deploy.md): the connection uses
 * one at a time and moves to the next when it fails.
 */
export function resolveRemotes(
  registry: Registry,
  urls: readonly string[],
  localLedger: string,
  options: ConnectOptions,
  deps: RemoteDeps,
): RemoteTarget {
  if (urls.length === 0)
    throw new InvalidUrlError("", "connect: the list of urls is empty");
  const plans = urls.map((url) =>
    planRemote(registry, url, localLedger, options, deps),
  );
  const ledger = plans[0]!.ledger;
  if (plans.some((p) => p.ledger !== ledger))
    throw new InvalidUrlError(
      urls.join(" "),
      "several urls of one remote must name the same ledger",
    );
  const where = plans
    .map((p) => p.where)
    .sort()
    .join(" ");
  return {
    url: urls.join(" "),
    ledger,
    remoteId: `sync-${toHex(deps.sha256(utf8(`${where}\n${ledger}`))).slice(0, 32)}`,
    opener:
      plans.length === 1
        ? plans[0]!.opener
        : createFailoverOpener(plans.map((p) => p.opener)),
  };
}

function planRemote(
  registry: Registry,
  text: string,
  localLedger: string,
  options: ConnectOptions,
  deps: RemoteDeps,
): RemotePlan & { ledger: string } {
  let ledger = localLedger;
  const {
    url,
    factory,
    options: parsed,
  } = registry.resolve(text, "remote", (url) => {
    const named = url.searchParams.get("ledger");
    if (named === "") throw new InvalidUrlError(text, "?ledger= is empty");
    if (named !== null) ledger = named;
    url.searchParams.delete("ledger");
  });
  if (isRemoteFactory(factory))
    return { ledger, ...factory.plan(parsed, { ledger, options, deps }) };
  return {
    ledger,
    where: url.href,
    opener: lazyGatewayOpener(factory, parsed, ledger, transportOf(url), deps),
  };
}

/** How a gateway remote shows on a live status: its scheme's name. */
function transportOf(url: URL): Transport {
  return url.protocol.slice(0, -1);
}

/** Opens the gateway on the first session, and again after it failed to open. */
function lazyGatewayOpener(
  factory: GatewayFactory<unknown>,
  parsed: unknown,
  ledger: string,
  transport: Transport,
  deps: RemoteDeps,
): RemoteOpener {
  let inner: Promise<RemoteOpener> | undefined;
  const get = () => {
    inner ??= factory
      .open(parsed)
      .then((g: Gateway) =>
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
