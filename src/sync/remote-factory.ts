// How connect() turns a URL into a remote, through the one gateway registry. Any gateway
// factory registered for the remote role is a remote: its Gateway is adapted into sessions
// (gateway-remote.ts). A factory whose remote speaks more than the Gateway seam — a Kiln
// SyncServer, with server-side catch-up and live push — is a RemoteFactory and plans its own
// sessions.
import type { GatewayFactory } from "../gateways/gateway.js";
import type { BackoffOptions } from "../util/backoff.js";
import type { OnProgress } from "../util/progress.js";
import type { RemoteOpener } from "./remote-opener.js";

/** Options of connect(). */
export interface ConnectOptions {
  /** Bearer token for a SyncServer that requires one (`kiln token`). */
  readonly token?: string;
  /** Backoff between failed sessions (default 250 ms doubling to 30 s, with jitter). */
  readonly backoff?: BackoffOptions;
  /** Backoff before WebSocket is tried again after it failed (default 2 s to 60 s). */
  readonly wsRetry?: BackoffOptions;
  /** Long-poll wait of HTTP sessions (default 25 s). */
  readonly pollWaitMs?: number;
  /**
   * "push": send local writes, never download others' (telemetry writers); "pull": the
   * reverse; "both" (default).
   */
  readonly direction?: "push" | "pull" | "both";
  /**
   * Told as a pull merges commits (phase "catch-up"): `done` commits merged of `total` the
   * remote said it would send (undefined when it did not). Called once per batch, after
   * the batch is merged; pulls of nothing are not reported.
   */
  readonly onProgress?: OnProgress;
}

/** What resolving a remote needs of the ledger. */
export interface RemoteDeps {
  /** True when the ledger holds the commit (and its ancestors). */
  readonly isKnown: (cid: string) => boolean;
  readonly sha256: (bytes: Uint8Array) => Uint8Array;
}

export interface RemoteContext {
  /** The remote ledger's name (the URL's ?ledger=, else the local ledger's). */
  readonly ledger: string;
  readonly options: ConnectOptions;
  readonly deps: RemoteDeps;
}

/** A remote as one URL names it. */
export interface RemotePlan {
  /**
   * Where the remote is, for its sync state's id: two URLs that reach the same remote (ws://
   * and http:// of one server) give the same string.
   */
  readonly where: string;
  readonly opener: RemoteOpener;
}

export interface RemoteFactory<
  Options = unknown,
> extends GatewayFactory<Options> {
  /** How a connection reaches the remote these options name. */
  plan(options: Options, context: RemoteContext): RemotePlan;
}

export function isRemoteFactory(
  factory: GatewayFactory<unknown>,
): factory is RemoteFactory<unknown> {
  return typeof (factory as Partial<RemoteFactory>).plan === "function";
}
