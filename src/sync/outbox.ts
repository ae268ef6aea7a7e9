// The outbox: for each remote a ledger has been connected to, the commits of the ledger that
// remote has not acknowledged. One module holds the concept: the record kept per remote (its
// sync state), the store of those records beside the ledger, the live Outbox a Connection
// drains, and what compaction must keep for them.
//
// The outbox needs no list of its own: the unsent commits are exactly those not reachable
// from `pushed` ∪ `remote` of the remote's record, so they are recomputed from the clock
// after a restart. A Connection keeps its record in memory and writes it through at most
// once per SAVE_EVERY_MS and once more on close: the record only bounds how much is pushed
// or pulled again after a restart (pushes are idempotent), so it need not cost a write per
// change. Compaction never drops a commit some remote's outbox holds, however long that
// remote stays away.
import type { CID } from "multiformats/cid";
import { cidString } from "../blocks/cid.js";
import type { LocalStorage } from "../gateways/gateway.js";
import { fromUtf8, utf8 } from "../util/bytes.js";
import type { Clock } from "../util/clock.js";
import { realClock } from "../util/clock.js";
import type { CancelTimer } from "../util/clock.js";
import { CorruptError } from "../util/errors.js";
import { MAX_CID_LIST } from "./protocol/index.js";

/** What a ledger remembers of one remote across restarts. */
export interface SyncState {
  /** The remote's URL as the app gave it, minus secrets (for people reading the store). */
  readonly url: string;
  /** The remote ledger's name. */
  readonly ledger: string;
  /** Local heads whose commits (and ancestors) the remote acknowledged. */
  readonly pushed: readonly string[];
  /** The remote's heads as last seen; commits the client holds of them count as on the remote. */
  readonly remote: readonly string[];
}

/** The records of every remote, by remote id. */
export interface SyncStates {
  readonly remotes: Record<string, SyncState>;
}

/** Where the records are kept: the ledger's meta record (OutboxStore), or a test's map. */
export interface OutboxRecords {
  get(remote: string): Promise<SyncState | undefined>;
  set(remote: string, state: SyncState): Promise<void>;
  /**
   * The live state of a remote, between writes (they come at most once a second): what
   * compaction goes by, once it has written it.
   */
  note?(remote: string, state: SyncState): void;
}

/** What the outbox reads of the ledger's commit graph. */
export interface OutboxGraph {
  has(cid: string): boolean;
  /** Commits not reachable from the known CIDs of `boundary`, parents first. */
  since(boundary: readonly string[]): Promise<CID[]>;
}

const SAVE_EVERY_MS = 1000;

export interface OutboxOptions {
  /** Where the record is read from and written to. */
  readonly records: OutboxRecords;
  /** The remote's id among the ledger's records. */
  readonly remoteId: string;
  /** Told of a failed read or write (a failed write is tried again at the next change). */
  readonly onError: (error: Error) => void;
  /** Told of every change of `pending`, with the new count. */
  readonly onPending?: (pending: number) => void;
  readonly clock?: Clock;
}

/** The outbox of one remote, as a Connection drains it. */
export class Outbox {
  #state: SyncState;
  readonly #records: OutboxRecords;
  readonly #remoteId: string;
  readonly #onError: (error: Error) => void;
  readonly #onPending: ((pending: number) => void) | undefined;
  readonly #clock: Clock;
  #pending = 0;
  #saving: Promise<void> | undefined;
  #wanted = false;
  #timer: CancelTimer | undefined;
  #closed = false;

  constructor(initial: SyncState, options: OutboxOptions) {
    this.#state = initial;
    this.#records = options.records;
    this.#remoteId = options.remoteId;
    this.#onError = options.onError;
    this.#onPending = options.onPending;
    this.#clock = options.clock ?? realClock;
  }

  /** The current state; a new object after every change, so identity tells of changes. */
  get state(): SyncState {
    return this.#state;
  }

  /** Commits not acknowledged, as of the last count (unsent()) and the writes since. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Reads the record kept from earlier connections (keeping this connection's URL). A
   * damaged record is reported and costs only a full push again. A remote without a record
   * gets one at once: compaction keeps what the recorded remotes lack, so a remote known
   * only in memory would have its unsent commits compacted away.
   */
  async load(): Promise<void> {
    try {
      const saved = await this.#records.get(this.#remoteId);
      if (saved) this.#state = { ...saved, url: this.#state.url };
      else await this.#records.set(this.#remoteId, this.#state);
    } catch (error) {
      this.#onError(error as Error);
    }
  }

  /** Local commits were written: they wait here until the next push. */
  added(count: number): void {
    this.#setPending(this.#pending + count);
  }

  /**
   * The commits to push, parents first: those of the ledger not reachable from what the
   * remote acknowledged or was seen to hold. Recounts `pending`.
   */
  async unsent(graph: OutboxGraph): Promise<CID[]> {
    const cids = await graph.since(outboxBoundary(this.#state, graph));
    this.#setPending(cids.length);
    return cids;
  }

  /** A batch of `count` commits was acknowledged, the remote's heads after it `heads`. */
  acknowledged(count: number, heads: readonly string[]): void {
    this.#setPending(Math.max(0, this.#pending - count));
    this.setRemote(heads);
  }

  setPushed(heads: readonly string[]): void {
    this.#set({ ...this.#state, pushed: heads });
  }

  setRemote(heads: readonly string[]): void {
    // A remote's head set is bounded by the protocol; a hostile one is not let grow the
    // record past that bound.
    const bounded =
      heads.length > MAX_CID_LIST ? heads.slice(0, MAX_CID_LIST) : heads;
    if (!sameSet(bounded, this.#state.remote))
      this.#set({ ...this.#state, remote: bounded });
  }

  /** Forgets what the remote acknowledged: the whole ledger is pushed again. */
  reset(): void {
    this.#set({ ...this.#state, pushed: [], remote: [] });
  }

  /** Writes what changed and stops writing. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#flush();
  }

  #setPending(pending: number): void {
    if (pending === this.#pending) return;
    this.#pending = pending;
    this.#onPending?.(pending);
  }

  #set(state: SyncState): void {
    this.#state = state;
    this.#records.note?.(this.#remoteId, state);
    this.#wanted = true;
    if (this.#timer || this.#saving || this.#closed) return;
    this.#timer = this.#clock.setTimer(
      () => {
        this.#timer = undefined;
        void this.#flush();
      },
      SAVE_EVERY_MS,
      { weak: true },
    );
  }

  async #flush(): Promise<void> {
    this.#timer?.();
    this.#timer = undefined;
    await this.#saving;
    if (!this.#wanted) return;
    this.#wanted = false;
    this.#saving = this.#records
      .set(this.#remoteId, this.#state)
      .catch((error: unknown) => this.#onError(error as Error))
      .finally(() => {
        this.#saving = undefined;
        // Changes made while this write ran get their own, later.
        if (this.#wanted && !this.#closed) this.#set(this.#state);
      });
    await this.#saving;
  }
}

/** The commits below which everything counts as on the remote (the known ones only). */
export function outboxBoundary(
  state: SyncState,
  graph: Pick<OutboxGraph, "has">,
): string[] {
  return [...state.pushed, ...state.remote].filter((c) => graph.has(c));
}

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

const META_NAME = "sync";

/**
 * Every remote's record, kept as one meta record beside the ledger (docs/format.md,
 * `meta-sync`). Writes are serial, each replaces the whole record.
 */
export class OutboxStore implements OutboxRecords {
  readonly #local: LocalStorage;
  readonly #ledger: string;
  #states: Promise<SyncStates> | undefined;
  /** The loaded record, updated synchronously so concurrent set() calls compose. */
  #current: SyncStates | undefined;
  #writing: Promise<void> = Promise.resolve();
  /** States noted since they were last written, by remote. */
  readonly #noted = new Map<string, SyncState>();

  constructor(local: LocalStorage, ledger: string) {
    this.#local = local;
    this.#ledger = ledger;
  }

  all(): Promise<SyncStates> {
    this.#states ??= this.#local
      .getMeta(this.#ledger, META_NAME)
      .then((bytes) => {
        this.#current ??= bytes
          ? decodeSyncStates(bytes, `sync state of ${this.#ledger}`)
          : { remotes: {} };
        return this.#current;
      });
    // A failed read is retried next time rather than cached.
    this.#states.catch(() => (this.#states = undefined));
    return this.#states;
  }

  async get(remote: string): Promise<SyncState | undefined> {
    return (await this.all()).remotes[remote];
  }

  note(remote: string, state: SyncState): void {
    this.#noted.set(remote, state);
  }

  async set(remote: string, state: SyncState): Promise<void> {
    if (this.#noted.get(remote) === state) this.#noted.delete(remote);
    await this.all();
    const next: SyncStates = {
      remotes: { ...this.#current!.remotes, [remote]: state },
    };
    this.#current = next;
    this.#states = Promise.resolve(next);
    const write = this.#writing.then(() =>
      this.#local.putMeta(this.#ledger, META_NAME, encodeSyncStates(next)),
    );
    this.#writing = write.catch(() => undefined);
    await write;
  }

  /** True once the ledger has been connected to some remote. */
  async hasRemotes(): Promise<boolean> {
    return Object.keys((await this.all()).remotes).length > 0;
  }

  /**
   * What compaction must keep for the outboxes: every commit some remote this ledger was
   * ever connected to has not acknowledged.
   */
  async unacknowledged(graph: OutboxGraph): Promise<Set<string>> {
    // What remotes acknowledged since their records were last written counts, once written:
    // a restart must never find a record claiming commits that compaction let go.
    for (const [remote, state] of [...this.#noted])
      await this.set(remote, state);
    const keep = new Set<string>();
    const { remotes } = await this.all();
    for (const r of Object.values(remotes))
      for (const cid of await graph.since(outboxBoundary(r, graph)))
        keep.add(cidString(cid));
    return keep;
  }
}

export function encodeSyncStates(states: SyncStates): Uint8Array {
  return utf8(JSON.stringify({ v: 1, ...states }));
}

export function decodeSyncStates(
  bytes: Uint8Array,
  subject: string,
): SyncStates {
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(bytes));
  } catch {
    throw new CorruptError(subject, "sync state is not valid json");
  }
  const v = value as { v?: unknown; remotes?: unknown };
  if (v?.v !== 1 || typeof v.remotes !== "object" || v.remotes === null)
    throw new CorruptError(subject, "sync state has an unknown shape");
  const isList = (x: unknown): x is string[] =>
    Array.isArray(x) && x.every((e) => typeof e === "string");
  const remotes: Record<string, SyncState> = {};
  for (const [id, s] of Object.entries(v.remotes as Record<string, unknown>)) {
    const r = s as Partial<Record<keyof SyncState, unknown>>;
    if (
      typeof r.url !== "string" ||
      typeof r.ledger !== "string" ||
      !isList(r.pushed) ||
      !isList(r.remote)
    )
      throw new CorruptError(subject, `sync state of ${id} is malformed`);
    remotes[id] = {
      url: r.url,
      ledger: r.ledger,
      pushed: r.pushed,
      remote: r.remote,
    };
  }
  return { remotes };
}
