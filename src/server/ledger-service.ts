// What the SyncServer does for a client, whatever the transport: negotiate a version, check a
// token, answer a pull (ledger-reads.ts), verify and store a push (ledger-push.ts), keep a
// snapshot, delete a ledger. The WebSocket session and the HTTP handler only move these
// answers over their wire.
import type { CID } from "multiformats/cid";
import {
  chooseVersion,
  checkCommit,
  ProtocolError,
  PROTOCOL_VERSIONS,
} from "../sync/protocol/index.js";
import type {
  Ack,
  Commits,
  Hello,
  Deleted,
  DeleteLedger,
  Publish,
  Push,
  Upload,
  Uploads,
  Welcome,
} from "../sync/protocol/index.js";
import { authorize, OPEN_RIGHTS, verifyToken } from "./auth.js";
import type { Rights } from "./auth.js";
import type { Backend, LedgerChange } from "./backend.js";
import { presignUploads } from "./direct-uploads.js";
import { storePush } from "./ledger-push.js";
import { commitBatches, difference, liveBatches } from "./ledger-reads.js";
import { coversDropped, dropCovered } from "./ledger-retain.js";
import type { Difference } from "./ledger-reads.js";
import { PushRate } from "./push-rate.js";
import { PushGate } from "../trust/push-gate.js";
import type { SigningProvider } from "../trust/signing.js";
import { nodeSigning } from "../trust/node-signing.js";
import { Lru } from "../util/lru.js";
import { nodeSha256 } from "../sync/protocol/index.js";

/** The two transports a SyncServer speaks. */
export type TransportName = "ws" | "http";

export interface LedgerServiceOptions {
  /** The guarded backend (its failures are already ProtocolErrors). */
  backend: Backend;
  secret: string | undefined;
  maxMessage: number;
  maxCommits: number;
  /** Milliseconds, like Date.now. */
  clock: () => number;
  /** Transports open now, in order of preference. */
  transports: () => TransportName[];
  /** The push rate limit per ledger (push-rate.ts). */
  pushBytesPerSecond: number;
  pushBurst: number;
  /** Commit bytes a ledger may hold; Infinity or absent for no quota. */
  ledgerQuota?: number;
  /** Ed25519, to check membered ledgers' pushes (src/trust/push-gate.ts; default node:crypto). */
  signing?: SigningProvider;
}

/** Ledgers whose membership index a process keeps at most (least recently pushed dropped). */
const GATES = 1024;

export class LedgerService {
  readonly backend: Backend;
  readonly maxMessage: number;
  readonly maxCommits: number;
  readonly #pushRate: PushRate;
  readonly #ledgerQuota: number | undefined;
  readonly #gates = new Lru<string, PushGate>(GATES);
  readonly #signing: SigningProvider;
  readonly #secret: string | undefined;
  readonly #clock: () => number;
  readonly #transports: () => TransportName[];
  /** Revoked token ids: loaded from the backend, then kept up to date by its watcher. */
  readonly #revoked = new Set<string>();
  #revokedLoaded: Promise<void> | undefined;
  #isRevokedLoaded = false;
  readonly #onRevoked = new Set<(id: string) => void>();
  readonly #stopRevocations: () => void;

  constructor(options: LedgerServiceOptions) {
    this.backend = options.backend;
    this.maxMessage = options.maxMessage;
    this.maxCommits = options.maxCommits;
    this.#pushRate = new PushRate(
      options.pushBytesPerSecond,
      options.pushBurst,
      options.clock,
    );
    this.#ledgerQuota =
      options.ledgerQuota !== undefined && Number.isFinite(options.ledgerQuota)
        ? options.ledgerQuota
        : undefined;
    this.#secret = options.secret;
    this.#signing = options.signing ?? nodeSigning;
    this.#clock = options.clock;
    this.#transports = options.transports;
    this.#stopRevocations =
      this.#secret === undefined
        ? () => undefined
        : this.backend.watchRevocations((id) => {
            this.#revoked.add(id);
            for (const listener of [...this.#onRevoked]) listener(id);
          });
    void this.loadRevocations().catch(() => undefined);
  }

  /**
   * Loads the revoked token ids (once; again after a failure). Until it has, a token is
   * refused as `unavailable` (try again): never accepted unchecked.
   */
  loadRevocations(): Promise<void> {
    if (this.#secret === undefined) return Promise.resolve();
    this.#revokedLoaded ??= this.backend.revokedTokens().then(
      (ids) => {
        for (const id of ids) this.#revoked.add(id);
        this.#isRevokedLoaded = true;
      },
      (error: unknown) => {
        this.#revokedLoaded = undefined;
        throw error;
      },
    );
    return this.#revokedLoaded;
  }

  /** Calls `listener` with each token id revoked from now on (by any server process). */
  onRevoked(listener: (id: string) => void): () => void {
    this.#onRevoked.add(listener);
    return () => this.#onRevoked.delete(listener);
  }

  /** Revokes a token by id, here and (through the backend) on every server process. */
  async revokeToken(id: string): Promise<void> {
    await this.backend.revokeToken(id);
    this.#revoked.add(id);
    for (const listener of [...this.#onRevoked]) listener(id);
  }

  /** True when a grant of `rights` came from a revoked token. */
  isRevoked(rights: Rights): boolean {
    return rights.some((g) => g.id !== undefined && this.#revoked.has(g.id));
  }

  stop(): void {
    this.#stopRevocations();
    this.#onRevoked.clear();
  }

  #watches = 0;

  /** Watchers open now (live subscriptions and held long-polls). */
  get watches(): number {
    return this.#watches;
  }

  /** Watches a ledger; the returned function stops it (once, however often it is called). */
  watch(ledger: string, onChange: (change: LedgerChange) => void): () => void {
    const unwatch = this.backend.watch(ledger, onChange);
    this.#watches++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.#watches--;
      unwatch();
    };
  }

  get hasAuth(): boolean {
    return this.#secret !== undefined;
  }

  /**
   * The rights of some bearer tokens (the union of their grants); throws unauthorized when the
   * server needs a token and there is none, or any of them fails (naming which).
   */
  authenticate(tokens: readonly string[]): Rights {
    if (this.#secret === undefined) return OPEN_RIGHTS;
    if (tokens.length === 0)
      throw new ProtocolError(
        "unauthorized",
        "this server needs a bearer token",
      );
    const now = this.#clock();
    if (!this.#isRevokedLoaded) {
      void this.loadRevocations().catch(() => undefined);
      throw new ProtocolError(
        "unavailable",
        "the server has not loaded its revoked tokens yet; try again",
      );
    }
    return tokens.map((token, i) => {
      try {
        const grant = verifyToken(this.#secret!, token, now);
        if (grant.id !== undefined && this.#revoked.has(grant.id))
          throw new ProtocolError("unauthorized", "the token was revoked");
        return grant;
      } catch (error) {
        if (tokens.length === 1 || !(error instanceof ProtocolError))
          throw error;
        throw new ProtocolError(
          error.reason,
          `token ${i + 1} of ${tokens.length}: ${error.message.replace(/^unauthorized: /, "")}`,
        );
      }
    });
  }

  /**
   * Throws forbidden or unauthorized unless `rights` open `ledger` for `access` now. Every
   * request and every live delivery passes here, so rights that lapse or are replaced stop
   * at once.
   */
  authorize(rights: Rights, ledger: string, access: "read" | "write"): void {
    if (this.isRevoked(rights))
      throw new ProtocolError("unauthorized", "the token was revoked");
    authorize(rights, ledger, access, this.#clock());
  }

  welcome(hello: Hello): Welcome {
    const v = chooseVersion(hello.v);
    if (v === undefined)
      throw new ProtocolError(
        "version",
        `no common protocol version: the client speaks ${hello.v.slice(0, 16).join(", ")}, this server ${PROTOCOL_VERSIONS.join(", ")}`,
      );
    return {
      t: "welcome",
      id: hello.id,
      v,
      transports: this.#transports(),
      maxMessage: this.maxMessage,
      maxCommits: this.maxCommits,
      server: "kiln",
      // Only when the backend can presign uploads: other servers never mention them.
      ...(this.backend.uploads
        ? { uploadMin: this.backend.uploads.minBytes }
        : {}),
    };
  }

  /** Presigned PUT URLs for the commits of an `upload` (direct-uploads.ts). */
  upload(message: Upload): Promise<Uploads> {
    return presignUploads(this.backend, message, this);
  }

  /** The server heads and the commits `have` lacks, maybe from a snapshot (ledger-reads.ts). */
  difference(
    ledger: string,
    have: readonly CID[],
    snapshot = false,
  ): Promise<Difference> {
    return difference(this.backend, ledger, have, snapshot);
  }

  /** Loads `cids` as `commits` messages of at most maxMessage (ledger-reads.ts). */
  batches(
    ledger: string,
    cids: readonly CID[],
    id?: number,
  ): AsyncGenerator<Commits> {
    return commitBatches(this.backend, this.maxMessage, ledger, cids, id);
  }

  /** The live `commits` messages for a change of a subscribed ledger (ledger-reads.ts). */
  liveBatches(
    ledger: string,
    change: LedgerChange,
    skip: ReadonlySet<string> | undefined,
  ): Promise<Commits[]> {
    return liveBatches(this.backend, this.maxMessage, ledger, change, skip);
  }

  /** Verifies a push completely, then stores it (ledger-push.ts). */
  push(push: Push, origin: unknown): Promise<{ ack: Ack; uploaded: number }> {
    let gate = this.#gates.get(push.ledger);
    if (!gate) {
      gate = new PushGate({ signing: this.#signing, sha256: nodeSha256 });
      this.#gates.set(push.ledger, gate);
    }
    return storePush(
      this.backend,
      {
        maxMessage: this.maxMessage,
        maxCommits: this.maxCommits,
        pushRate: this.#pushRate,
        ledgerQuota: this.#ledgerQuota,
      },
      push,
      origin,
      gate,
    );
  }

  /** Deletes everything the backend keeps of the ledger (the caller checked write rights). */
  async deleteLedger(message: DeleteLedger): Promise<Deleted> {
    await this.backend.deleteLedger(message.ledger);
    return { t: "deleted", id: message.id, ledger: message.ledger };
  }

  /**
   * Stores a published snapshot: its bytes are checked against its CID and parsed as an
   * envelope, whose parents are the heads it covers; every one must be a commit held here
   * (missing-commit otherwise: push first). The ledger keeps the snapshot that reaches
   * highest (the greatest height among its heads; on a tie, the newer) — but once history
   * was let go, only one that covers the held one's heads (the dropped commits must stay
   * covered by the snapshot clients start from). With `retain: "snapshot"`, the commits the
   * kept snapshot covers are dropped (ledger-retain.ts). Answered with an ack naming the
   * heads it covers; `stored` is 1 when it replaced the one held.
   */
  async publishSnapshot(message: Publish): Promise<Ack> {
    const { ledger } = message;
    const [cid, bytes] = message.snapshot;
    const heads = checkCommit(cid, bytes);
    if (heads.length === 0)
      throw new ProtocolError(
        "bad-commit",
        `snapshot ${cid.toString()} covers no heads`,
      );
    const meta = await this.backend.getMeta(ledger, heads);
    const absent = meta.findIndex((m) => m === undefined);
    if (absent >= 0)
      throw new ProtocolError(
        "missing-commit",
        `snapshot head ${heads[absent]!.toString()} is not held by the server; push it first`,
      );
    const height = Math.max(...meta.map((m) => m!.height));
    const held = await this.backend.getSnapshot(ledger);
    const replaces =
      !held ||
      (height >= held.height &&
        !held.cid.equals(cid) &&
        (await coversDropped(this.backend, ledger, held, heads)));
    if (replaces)
      await this.backend.putSnapshot(ledger, { cid, bytes, heads, height });
    if (message.retain === "snapshot" && (replaces || held?.cid.equals(cid)))
      await dropCovered(this.backend, ledger, heads);
    return {
      t: "ack",
      id: message.id,
      ledger,
      heads,
      stored: replaces ? 1 : 0,
    };
  }
}
