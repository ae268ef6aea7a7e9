// memory://name — an in-process gateway. Opens of the same name share one room for the life
// of the process (so it also serves as a memory-only remote between ledgers in one process);
// memory:// with no name is a private room that disappears with its only handle.
import type { CID } from "../blocks/cid.js";
import {
  ClosedError,
  InvalidArgumentError,
  InvalidUrlError,
  MissingCommitError,
} from "../util/errors.js";
import { applyHeadUpdate, EMPTY_HEADS } from "./apply-head-update.js";
import type {
  Gateway,
  GatewayFactory,
  HeadSet,
  HeadUpdate,
  LocalStorage,
  Unsubscribe,
} from "./gateway.js";
import { HeadWatchers } from "./head-watchers.js";
import { checkMetaName } from "./ledger-name.js";
import { checkLedgerName } from "../util/ledger-name.js";

export interface MemoryGatewayOptions {
  /** The room name; undefined opens a private room. */
  readonly name: string | undefined;
}

interface MemoryLedger {
  readonly commits: Map<
    string,
    { readonly cid: CID; readonly bytes: Uint8Array }
  >;
  heads: HeadSet;
  key: string | undefined;
  checkpoint: Uint8Array | undefined;
  readonly meta: Map<string, Uint8Array>;
}

class MemoryRoom {
  writer: string | undefined;
  readonly ledgers = new Map<string, MemoryLedger>();
  readonly watchers = new HeadWatchers();
}

// Shared by name for the life of the process, as a named room is meant to outlive any one
// handle; LocalStorage.destroy frees a ledger's share of it.
const rooms = new Map<string, MemoryRoom>();

/** `memory://` (private to one ledger) and `memory://name` (shared in-process by name, also a remote). */
export const memoryGateway: GatewayFactory<MemoryGatewayOptions> = {
  schemes: ["memory:"],
  parse(url) {
    const text = url.href;
    if (!text.startsWith("memory://"))
      throw new InvalidUrlError(text, "expected memory://name");
    if (url.pathname !== "" && url.pathname !== "/")
      throw new InvalidUrlError(text, "a memory room name has no path");
    if (url.search !== "" || url.hash !== "")
      throw new InvalidUrlError(text, "memory:// takes no query or fragment");
    if (url.username !== "" || url.password !== "" || url.port !== "")
      throw new InvalidUrlError(text, "memory:// takes no credentials or port");
    if (url.host === "") return { name: undefined };
    let name: string;
    try {
      name = decodeURIComponent(url.host);
    } catch {
      throw new InvalidUrlError(
        text,
        "room name is not valid percent-encoding",
      );
    }
    return { name };
  },
  open(options) {
    let room: MemoryRoom;
    if (options.name === undefined) room = new MemoryRoom();
    else {
      room = rooms.get(options.name) ?? new MemoryRoom();
      rooms.set(options.name, room);
    }
    const url =
      options.name === undefined
        ? "memory://"
        : `memory://${encodeURIComponent(options.name)}`;
    return Promise.resolve(new MemoryGateway(url, room));
  },
};

class MemoryGateway implements Gateway {
  readonly url: string;
  readonly local: LocalStorage;
  #room: MemoryRoom | undefined;

  constructor(url: string, room: MemoryRoom) {
    this.url = url;
    this.#room = room;
    this.local = {
      getWriterKey: () => attempt(() => this.#open("get writer key").writer),
      putWriterKey: (key) =>
        attempt(() => (this.#open("put writer key").writer ??= key)),
      getKey: (ledger) => attempt(() => this.#find("get key", ledger)?.key),
      putKey: (ledger, key) =>
        attempt(() => (this.#ledger("put key", ledger).key ??= key)),
      getCheckpoint: (ledger) =>
        attempt(() => copy(this.#find("get checkpoint", ledger)?.checkpoint)),
      putCheckpoint: (ledger, bytes) =>
        attempt(() => {
          this.#ledger("put checkpoint", ledger).checkpoint = copy(bytes);
        }),
      getMeta: (ledger, name) =>
        attempt(() =>
          copy(this.#find("get meta", ledger)?.meta.get(checkMetaName(name))),
        ),
      putMeta: (ledger, name, bytes) =>
        attempt(() => {
          this.#ledger("put meta", ledger).meta.set(
            checkMetaName(name),
            copy(bytes),
          );
        }),
      listCommits: (ledger) =>
        attempt(() =>
          [...(this.#find("list commits", ledger)?.commits.values() ?? [])].map(
            (c) => c.cid,
          ),
        ),
      retainCommits: (ledger, keep) =>
        attempt(() => this.#retain(ledger, keep)),
      sizeOf: (ledger) => attempt(() => sizeOf(this.#find("size of", ledger))),
      destroy: (ledger) =>
        attempt(() => {
          checkLedgerName("destroy", ledger);
          this.#open("destroy").ledgers.delete(ledger);
        }),
    };
  }

  putCommit(ledger: string, cid: CID, bytes: Uint8Array): Promise<void> {
    return attempt(() => {
      const commits = this.#ledger("put commit", ledger).commits;
      const key = cid.toString();
      // Copied in: the caller may reuse its buffer, and another handle reads this one.
      if (!commits.has(key)) commits.set(key, { cid, bytes: copy(bytes) });
    });
  }

  getCommit(ledger: string, cid: CID): Promise<Uint8Array | undefined> {
    // Copied out for the same reason: a reader mutating its result must not change the room.
    return attempt(() =>
      copy(
        this.#find("get commit", ledger)?.commits.get(cid.toString())?.bytes,
      ),
    );
  }

  getHeads(ledger: string): Promise<HeadSet> {
    return attempt(() => this.#find("get heads", ledger)?.heads ?? EMPTY_HEADS);
  }

  putHeads(ledger: string, update: HeadUpdate): Promise<HeadSet> {
    return attempt(() => {
      const state = this.#ledger("put heads", ledger);
      for (const cid of update.add)
        if (!state.commits.has(cid.toString()))
          throw new MissingCommitError(ledger, cid.toString());
      const next = applyHeadUpdate(state.heads, update);
      if (next === undefined) return state.heads;
      state.heads = next;
      this.#room?.watchers.notify(ledger, this, next);
      return next;
    });
  }

  watch(ledger: string, onHeads: (heads: HeadSet) => void): Unsubscribe {
    checkLedgerName("watch", ledger);
    return this.#open("watch").watchers.add(ledger, this, onHeads);
  }

  close(): Promise<void> {
    this.#room?.watchers.removeOwner(this);
    this.#room = undefined;
    return Promise.resolve();
  }

  #open(operation: string): MemoryRoom {
    if (!this.#room) throw new ClosedError(`${operation}: gateway ${this.url}`);
    return this.#room;
  }

  #find(operation: string, ledger: string): MemoryLedger | undefined {
    checkLedgerName(operation, ledger);
    return this.#open(operation).ledgers.get(ledger);
  }

  #ledger(operation: string, ledger: string): MemoryLedger {
    checkLedgerName(operation, ledger);
    const ledgers = this.#open(operation).ledgers;
    let state = ledgers.get(ledger);
    if (!state) {
      state = {
        commits: new Map(),
        heads: EMPTY_HEADS,
        key: undefined,
        checkpoint: undefined,
        meta: new Map(),
      };
      ledgers.set(ledger, state);
    }
    return state;
  }

  #retain(ledger: string, keep: ReadonlySet<string>): void {
    const state = this.#find("retain commits", ledger);
    if (!state) return;
    for (const head of state.heads) {
      if (!keep.has(head.toString()))
        throw new InvalidArgumentError(
          `retain commits of ${JSON.stringify(ledger)}: head ${head.toString()} is not in the kept set`,
        );
    }
    for (const key of [...state.commits.keys()])
      if (!keep.has(key)) state.commits.delete(key);
  }
}

function sizeOf(state: MemoryLedger | undefined): number {
  if (!state) return 0;
  let size = (state.key?.length ?? 0) + (state.checkpoint?.length ?? 0);
  for (const { cid, bytes } of state.commits.values())
    size += cid.bytes.length + bytes.length;
  for (const head of state.heads) size += head.bytes.length;
  return size;
}

// Not bytes.slice(): a caller may pass a Buffer, whose slice() is a view of the same memory.
// Not new Uint8Array(bytes) either: V8 copies that element by element, ~10x slower than set().
function copy<T extends Uint8Array | undefined>(bytes: T): T {
  if (bytes === undefined) return bytes;
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out as T;
}

// Every method reports failure as a rejection, never a synchronous throw, as callers of a
// Promise-returning seam expect.
function attempt<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(
      error instanceof Error ? error : new Error(String(error)),
    );
  }
}
