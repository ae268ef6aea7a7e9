// The ledger's side of sync: its connections to remotes, and what the sync engine sees of
// the ledger (a SyncHost).
import type { CID } from "multiformats/cid";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { Gateway } from "../gateways/gateway.js";
import type { Registry } from "../gateways/registry.js";
import {
  ClosedError,
  CorruptError,
  InvalidArgumentError,
} from "../util/errors.js";
import { Connection } from "../sync/connection.js";
import type { SyncHost } from "../sync/host.js";
import type { WireCommit } from "../sync/protocol/index.js";
import { resolveRemotes } from "../sync/resolve-remote.js";
import type { ConnectOptions } from "../sync/resolve-remote.js";
import type { CommitCids } from "./commit-cids.js";
import type { LedgerEvents } from "./ledger-events.js";
import type { LedgerSnapshots } from "./ledger-snapshots.js";
import type { StateLoader } from "./state-loader.js";
import type { OutboxStore } from "../sync/outbox.js";
import type { TabLink } from "../sync/tab-link.js";

export type { ConnectOptions };

export interface LedgerSyncParts {
  name: string;
  storage: Gateway;
  /** Resolves connect() URLs (role "remote"). */
  registry: Registry;
  loader: StateLoader;
  crypto: CryptoProvider;
  cids: CommitCids;
  events: LedgerEvents;
  outboxes: OutboxStore;
  isClosed: () => boolean;
  snapshots: LedgerSnapshots;
  /** Shares a remote among the tabs of an origin (Platform.tabLink). */
  tabLink?: ((remoteId: string) => TabLink | undefined) | undefined;
  /** Merges what other handles stored (SyncHost.catchUp). */
  catchUp: () => Promise<void>;
  /** Merges commits that arrived from a remote (see Merger). */
  merge: (
    commits: readonly CID[],
    incoming: readonly WireCommit[],
    origin: unknown,
  ) => Promise<{ refused: Error[] }>;
}

export class LedgerSync {
  readonly #p: LedgerSyncParts;
  readonly #connections = new Set<Connection>();
  #syncHost: SyncHost | undefined;

  constructor(parts: LedgerSyncParts) {
    this.#p = parts;
  }

  /** See Ledger.connect. */
  connect(
    url: string | readonly string[],
    options: ConnectOptions = {},
  ): Connection {
    const urls = typeof url === "string" ? [url] : url;
    const { direction } = options;
    if (
      direction !== undefined &&
      direction !== "push" &&
      direction !== "pull" &&
      direction !== "both"
    )
      throw new InvalidArgumentError(
        `connect: direction must be "push", "pull" or "both", not ${JSON.stringify(direction)}`,
      );
    const target = resolveRemotes(
      this.#p.registry,
      urls,
      this.#p.name,
      options,
      {
        isKnown: (cid) => this.#p.loader.has(cid),
        sha256: (bytes) => this.#p.crypto.sha256(bytes),
      },
    );
    const tabs = this.#p.tabLink?.(target.remoteId);
    const connection = new Connection(this.#host(), target, target.opener, {
      ...(tabs ? { tabs } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.pollWaitMs ? { pollWaitMs: options.pollWaitMs } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(direction ? { direction } : {}),
    });
    this.#connections.add(connection);
    connection.on("status", (status) => {
      if (status.kind === "closed") this.#connections.delete(connection);
    });
    return connection;
  }

  /**
   * The automatic rule (docs/protocol.md, "Snapshots"): after each automatic checkpoint, the
   * state is published as a snapshot to every live connection whose remote keeps snapshots.
   * In the background: a failure is reported on the ledger's `error` event.
   */
  publishSnapshots(): void {
    for (const c of this.#connections)
      if (c.status.kind === "live" && c.keepsSnapshots)
        c.publishSnapshot().catch((error: unknown) => {
          if ((error as { code?: unknown }).code !== "closed")
            this.#p.events.emitError(error);
        });
  }

  /** The open connections, in the order they were made. */
  get connections(): Connection[] {
    return [...this.#connections];
  }

  /**
   * Stops every connection: what they have not pushed stays in their outboxes, which are
   * recomputed from the clock on the next connect.
   */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#connections].map((c) => c.close()));
  }

  /** What the sync engine sees of this ledger. */
  #host(): SyncHost {
    const { name, storage, loader, cids, events, outboxes } = this.#p;
    this.#syncHost ??= {
      name,
      ready: () => loader.ready(),
      heads: () => loader.state.clock.heads,
      has: (cid) => loader.has(cid),
      since: async (boundary) => {
        // Nothing is newer than a boundary holding every head: answered without loading a
        // lazy state (a ledger that just adopted a snapshot).
        const known = new Set(boundary);
        if (loader.heads.every((h) => known.has(h))) return [];
        await loader.ready();
        return cids.since(boundary);
      },
      readCommit: async (cid) => {
        const bytes = await storage.getCommit(name, cid);
        if (!bytes)
          throw new CorruptError(
            `ledger ${name}`,
            `commit ${cid.toString()} is missing from storage (compacted away?)`,
          );
        return bytes;
      },
      receive: async (commits, origin) => {
        if (this.#p.isClosed()) throw new ClosedError(`ledger ${name}`);
        const { refused } = await this.#p.merge(
          commits.map((c) => c.cid),
          commits,
          origin,
        );
        return refused;
      },
      onChange: (listener) => events.onChange(listener),
      catchUp: () => this.#p.catchUp(),
      sealSnapshot: () => this.#p.snapshots.seal(),
      adoptSnapshot: (snapshot, origin) => {
        if (this.#p.isClosed()) throw new ClosedError(`ledger ${name}`);
        return this.#p.snapshots.adopt(snapshot, origin);
      },
      outboxes,
    };
    return this.#syncHost;
  }
}
