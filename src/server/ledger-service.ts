// What the SyncServer does for a client, whatever the transport: negotiate a version, check a
// token, compute and load the commits a client lacks, verify and store a push. The WebSocket
// session and the HTTP handler only move these answers over their wire.
import type { CID } from "multiformats/cid";
import { cidKey } from "../blocks/cid.js";
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
import { utf8Length } from "../util/bytes.js";
import { authorize, OPEN_RIGHTS, verifyToken } from "./auth.js";
import type { Rights } from "./auth.js";
import type {
  Backend,
  LedgerChange,
  StoredCommit,
  StoredSnapshot,
} from "./backend.js";
import { presignUploads, readUploaded } from "./direct-uploads.js";
import { missingCommits } from "./missing.js";
import { PushRate } from "./push-rate.js";

/** The two transports a SyncServer speaks. */
export type TransportName = "ws" | "http";

/** CIDs per backend read while streaming a catch-up. */
const READ_CHUNK = 256;

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
}

export class LedgerService {
  readonly backend: Backend;
  readonly maxMessage: number;
  readonly maxCommits: number;
  readonly #pushRate: PushRate;
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
    this.#secret = options.secret;
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

  /**
   * The server heads and the commits reachable from them that `have` does not reach, parents
   * first. The heads are read first, so every commit they reach is in the list (it may hold
   * more, from a push that landed in between). With `snapshot` (the pull offered to start
   * from one), when the ledger has a snapshot and `have` names no commit held here, the
   * answer starts from it: `snapshot` is set and `missing` holds only the commits after it.
   */
  async difference(
    ledger: string,
    have: readonly CID[],
    snapshot = false,
  ): Promise<{ heads: CID[]; missing: CID[]; snapshot?: StoredSnapshot }> {
    const heads = await this.backend.getHeads(ledger);
    const start = snapshot
      ? await this.#startingSnapshot(ledger, have)
      : undefined;
    const from = start ? [...have, ...start.heads] : [...have];
    const missing = await missingCommits(this.backend, ledger, from);
    return start ? { heads, missing, snapshot: start } : { heads, missing };
  }

  async #startingSnapshot(
    ledger: string,
    have: readonly CID[],
  ): Promise<StoredSnapshot | undefined> {
    const held = await this.backend.getSnapshot(ledger);
    if (!held) return undefined;
    const known = await this.backend.getMeta(ledger, have);
    return known.every((m) => m === undefined) ? held : undefined;
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
   * highest (the greatest height among its heads; on a tie, the newer). Answered with an ack
   * naming the heads it covers; `stored` is 1 when it replaced the one held.
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
    const replaces = !held || (height >= held.height && !held.cid.equals(cid));
    if (replaces)
      await this.backend.putSnapshot(ledger, { cid, bytes, heads, height });
    return {
      t: "ack",
      id: message.id,
      ledger,
      heads,
      stored: replaces ? 1 : 0,
    };
  }

  /** Loads `cids` in chunks and yields them as `commits` messages of at most maxMessage. */
  async *batches(
    ledger: string,
    cids: readonly CID[],
    id?: number,
    reserveHeads: readonly CID[] = [],
  ): AsyncGenerator<Commits> {
    const packer = new BatchPacker(ledger, this.maxMessage, id, reserveHeads);
    for (let at = 0; at < cids.length; at += READ_CHUNK) {
      const chunk = cids.slice(at, at + READ_CHUNK);
      const bytes = await this.backend.getCommits(ledger, chunk);
      for (let i = 0; i < chunk.length; i++) {
        const b = bytes[i];
        if (b === undefined)
          throw new ProtocolError(
            "unavailable",
            `storage lost commit ${chunk[i]!.toString()} of a head set; try again later`,
          );
        const full = packer.add(chunk[i]!, b);
        if (full) yield full;
      }
    }
    const last = packer.finish();
    if (last) yield last;
  }

  /**
   * The live `commits` messages for a change of a subscribed ledger: its commits (less those
   * in `skip`, already sent), the last message carrying the new heads.
   */
  async liveBatches(
    ledger: string,
    change: LedgerChange,
    skip: ReadonlySet<string> | undefined,
  ): Promise<Commits[]> {
    const keep = (cid: CID) => !skip?.has(cidKey(cid));
    const messages: Commits[] = [];
    const heads = [...change.heads];
    if (change.commits) {
      const packer = new BatchPacker(ledger, this.maxMessage, undefined, heads);
      for (const c of change.commits)
        if (keep(c.cid)) {
          const full = packer.add(c.cid, c.bytes);
          if (full) messages.push(full);
        }
      messages.push(packer.finish() ?? packer.empty());
      return attachHeads(messages, heads);
    }
    const added = change.added.filter(keep);
    for await (const m of this.batches(ledger, added, undefined, heads))
      messages.push(m);
    if (messages.length === 0)
      messages.push({ t: "commits", ledger, commits: [] });
    return attachHeads(messages, heads);
  }

  /**
   * Verifies a push completely — count, every commit against its CID and envelope (uploaded
   * ones read back from the store first), every parent held or earlier in the batch, the
   * named heads held afterwards — then stores it. Nothing is stored when any check fails.
   * `uploaded` counts the commits whose bytes came from direct uploads.
   */
  async push(
    push: Push,
    origin: unknown,
  ): Promise<{ ack: Ack; uploaded: number }> {
    const { ledger } = push;
    const count = push.commits.length + (push.uploaded?.length ?? 0);
    if (count > this.maxCommits)
      throw new ProtocolError(
        "too-large",
        `push of ${count} commits exceeds the limit of ${this.maxCommits}`,
      );
    const batch = new Map<string, StoredCommit>();
    const add = (commit: StoredCommit) => {
      const key = cidKey(commit.cid);
      if (!batch.has(key)) batch.set(key, commit);
    };
    // Uploaded commits come first: parents before children, all before `commits`.
    const uploaded =
      push.uploaded && push.uploaded.length > 0
        ? await readUploaded(
            this.backend,
            ledger,
            push.uploaded,
            this.maxMessage,
          )
        : [];
    for (const commit of uploaded) add(commit);
    for (const [cid, bytes] of push.commits)
      if (!batch.has(cidKey(cid)))
        add({ cid, bytes, parents: checkCommit(cid, bytes) });
    // Parents held by the server are checked by the backend itself, atomically with the
    // store (every backend must, the conformance suite checks it): a check here first would
    // cost every push one more read of the backend, and could not close the race anyway.
    let bytes = 0;
    for (const commit of batch.values()) bytes += commit.bytes.length;
    if (bytes > 0) this.#pushRate.take(ledger, bytes);
    const heads = (push.heads ?? []).filter((h) => !batch.has(cidKey(h)));
    const headMeta = await this.backend.getMeta(ledger, heads);
    const unknownHead = headMeta.findIndex((m) => m === undefined);
    if (unknownHead >= 0)
      throw new ProtocolError(
        "missing-commit",
        `head ${heads[unknownHead]!.toString()} is neither held by the server nor in the push`,
      );
    // A push of no commits only asks whether the server holds its heads.
    const stored =
      batch.size === 0
        ? { heads: await this.backend.getHeads(ledger), added: [] }
        : await this.backend.putCommits(ledger, [...batch.values()], origin);
    // The ack names only the commits of this push that are server heads now: O(push).
    const serverHeads = new Set(stored.heads.map(cidKey));
    const named = new Map<string, CID>();
    for (const { cid } of batch.values()) named.set(cidKey(cid), cid);
    for (const cid of push.heads ?? []) named.set(cidKey(cid), cid);
    const ackHeads = [...named]
      .filter(([key]) => serverHeads.has(key))
      .map(([, cid]) => cid);
    return {
      ack: {
        t: "ack",
        id: push.id,
        ledger,
        heads: ackHeads,
        stored: stored.added.length,
      },
      uploaded: uploaded.length,
    };
  }
}

function attachHeads(messages: Commits[], heads: CID[]): Commits[] {
  const last = messages[messages.length - 1];
  if (last) last.heads = heads;
  return messages;
}

/** Groups commits into `commits` messages whose encoding stays within maxMessage. */
class BatchPacker {
  readonly #base: number;
  #commits: [CID, Uint8Array][] = [];
  #size: number;

  constructor(
    readonly ledger: string,
    readonly maxMessage: number,
    readonly id?: number,
    reservedHeads: readonly CID[] = [],
  ) {
    // Map header, keys, type, id, ledger, array header; plus the heads the last batch carries.
    let headsSize = 0;
    for (const h of reservedHeads) headsSize += h.bytes.length + 3;
    this.#base = 64 + utf8Length(ledger) + headsSize;
    this.#size = this.#base;
  }

  /** Adds a commit; returns the previous batch when this commit would overflow it. */
  add(cid: CID, bytes: Uint8Array): Commits | undefined {
    // Array header, byte-string headers of cid and bytes.
    const size = cid.bytes.length + bytes.length + 16;
    let full: Commits | undefined;
    if (this.#commits.length > 0 && this.#size + size > this.maxMessage)
      full = this.finish();
    this.#commits.push([cid, bytes]);
    this.#size += size;
    return full;
  }

  finish(): Commits | undefined {
    if (this.#commits.length === 0) return undefined;
    const message = this.empty();
    message.commits = this.#commits;
    this.#commits = [];
    this.#size = this.#base;
    return message;
  }

  empty(): Commits {
    return {
      t: "commits",
      ...(this.id !== undefined ? { id: this.id } : {}),
      ledger: this.ledger,
      commits: [],
    };
  }
}
