// ledger.at(clock): a read-only view of the ledger as it was at a past clock. The view is
// the merge of exactly the commits the clock covers (the clock's commits and all their
// ancestors), read from the ledger's storage and opened once each — the same merge every
// replica computes, so the view is what any replica showed at that clock. It needs every
// one of those commits: when compaction let one go (or the replica started from a snapshot
// after it), a HistoryGoneError names it.
import { CID } from "multiformats/cid";
import { compareEvents } from "../crdt/clock.js";
import { MembershipIndex } from "../trust/membership.js";
import { decodeMembershipRecord } from "../trust/membership-record.js";
import { encodeWriter } from "../trust/signing.js";
import {
  ClosedError,
  HistoryGoneError,
  InvalidArgumentError,
  ReadOnlyError,
} from "../util/errors.js";
import type { BlockSource } from "./block-source.js";
import { createSourcedState } from "./block-source.js";
import { openCommit } from "./commit-reader.js";
import type { OpenedCommit } from "./commit-reader.js";
import { voidEvent } from "./merger.js";
import type { Doc, DocFields } from "./doc.js";
import { checkId } from "./doc.js";
import { DocReader } from "./doc-reader.js";
import { IndexRegistry } from "./index-registry.js";
import type { MapFn, QueryOptions, QueryRow } from "./query.js";
import type { AllDocsOptions, ChangeRow } from "./reads.js";
import { allDocsRows, changeRows } from "./reads.js";
import { StateLoader } from "./state-loader.js";
import type { DocHistoryParts } from "./doc-history.js";

/**
 * What at() needs of its ledger: what history() needs (the loader's clock says which commits a
 * past clock covers), and more.
 */
export interface PastParts extends DocHistoryParts {
  isClosed: () => boolean;
  /** Where map functions that throw are reported (the ledger's error event). */
  onError: (error: unknown) => void;
}

/** Commits opened at a time while a view is built. */
const OPEN_WINDOW = 64;

/** Builds the view of the ledger at `clock` (commit CIDs, as `ledger.clock` gives them). */
export async function openLedgerAt<T extends object>(
  parts: PastParts,
  clock: readonly string[],
): Promise<LedgerAt<T>> {
  if (!Array.isArray(clock) || !clock.every((c) => typeof c === "string"))
    throw new InvalidArgumentError("at: clock must be an array of commit cids");
  const { ledger, storage, loader, crypto, key } = parts;
  const keyFor = parts.keys ?? key;
  await loader.ready();
  const known = loader.state.clock;
  const gone = (cid: string, detail: string) =>
    new HistoryGoneError(ledger, cid, detail);
  // The commits the clock covers, from the ledger's clock: no commit is read to find them.
  const covered: string[] = [];
  const seen = new Set<string>();
  const stack = [...clock];
  while (stack.length > 0) {
    const cid = stack.pop()!;
    if (seen.has(cid)) continue;
    seen.add(cid);
    const event = known.get(cid);
    if (!event)
      throw gone(
        cid,
        "is not in this replica's history (let go before a snapshot it started from, or never part of this ledger)",
      );
    covered.push(cid);
    stack.push(...event.parents);
  }
  const opened: OpenedCommit[] = [];
  for (let from = 0; from < covered.length; from += OPEN_WINDOW)
    opened.push(
      ...(await Promise.all(
        covered.slice(from, from + OPEN_WINDOW).map(async (name) => {
          const cid = CID.parse(name);
          const bytes = await storage.getCommit(ledger, cid);
          if (!bytes)
            throw gone(name, "is no longer held (compaction let it go)");
          return openCommit(crypto, keyFor, cid, bytes);
        }),
      )),
    );
  const { state, blocks } = createSourcedState({
    storage,
    ledger,
    crypto,
    key,
  });
  if (parts.keys) blocks.keys = parts.keys;
  // Membership as of that clock: a commit its writer's removal within that history does not
  // follow counts for nothing, as on every replica (src/trust/membership.ts).
  const isVoid = voidAt(opened);
  await state.merge(
    opened.map((o) => (isVoid(o.event.cid) ? voidEvent(o.event) : o.event)),
  );
  // The docs of the commits just opened: reads of the view then decrypt nothing again.
  for (const o of opened) blocks.cacheDocs(o.event.cid, o);
  return new LedgerAt<T>(
    parts,
    [...clock].sort(),
    new StateLoader(state, undefined),
    blocks,
  );
}

/** Which of `opened` (one clock's whole history) are void under the records among them. */
function voidAt(opened: readonly OpenedCommit[]): (cid: string) => boolean {
  if (!opened.some((o) => o.record)) return () => false;
  const index = new MembershipIndex();
  for (const o of [...opened].sort((a, b) => compareEvents(a.event, b.event)))
    // Trusted: every one was admitted by the rule when it was merged here.
    index.admit(
      {
        cid: o.event.cid,
        parents: o.event.parents,
        writer: encodeWriter(o.writer),
        record:
          o.record && decodeMembershipRecord(o.record, `commit ${o.event.cid}`),
      },
      { trusted: true },
    );
  return (cid) => index.isVoid(cid);
}

/**
 * A read-only view of a ledger at a past clock (`ledger.at(clock)`): the docs as they were
 * then. Reads work as on the ledger (no schema is applied: an audit reads what was
 * written); writes throw a `ReadOnlyError`. It holds the docs it read in memory and follows
 * no later writes.
 */
export class LedgerAt<T extends object = DocFields> {
  /** The ledger's name. */
  readonly name: string;
  /** The clock this view is at (sorted). */
  readonly clock: string[];
  readonly #parts: PastParts;
  readonly #loader: StateLoader;
  readonly #reader: DocReader;
  readonly #indexes: IndexRegistry;

  /** @internal Views are made by `ledger.at()`. */
  constructor(
    parts: PastParts,
    clock: string[],
    loader: StateLoader,
    blocks: BlockSource,
  ) {
    this.name = parts.ledger;
    this.clock = clock;
    this.#parts = parts;
    this.#loader = loader;
    this.#reader = new DocReader(loader, blocks);
    this.#indexes = new IndexRegistry({
      loader,
      blocks,
      reader: this.#reader,
      crypto: parts.crypto,
      onError: parts.onError,
    });
  }

  /** The doc `id` as it was (NotFoundError when it had none); `conflicts` as on the ledger. */
  get(
    id: string,
    options: { conflicts?: boolean } = {},
  ): Promise<Doc<T> & { _conflicts?: Doc<T>[] }> {
    return this.#read(
      () =>
        this.#reader.get(checkId(id), options.conflicts === true) as Promise<
          Doc<T> & { _conflicts?: Doc<T>[] }
        >,
    );
  }

  /** Whether `id` had a live doc. */
  has(id: string): Promise<boolean> {
    return this.#read(() => this.#reader.has(checkId(id)));
  }

  /** The docs as they were, in id order (or a range of ids), with this view's clock. */
  allDocs(
    options: AllDocsOptions = {},
  ): Promise<{ rows: { id: string; doc: Doc<T> }[]; clock: string[] }> {
    return this.#read(async () => {
      const rows = await allDocsRows(this.#loader.state, options, (id, cid) =>
        this.#reader.at(id, cid),
      );
      return { rows: rows as { id: string; doc: Doc<T> }[], clock: this.clock };
    });
  }

  /** Every doc changed between `since` and this view's clock, as on the ledger. */
  changes(
    since: readonly string[] = [],
    options: { limit?: number } = {},
  ): Promise<{ rows: ChangeRow<T>[]; clock: string[] }> {
    return this.#read(async () => {
      if (!Array.isArray(since))
        throw new InvalidArgumentError(
          "changes: since must be a clock (an array of commit cids)",
        );
      return (await changeRows(
        this.#loader.state,
        since,
        options.limit,
        (id, cid) => this.#reader.at(id, cid),
      )) as { rows: ChangeRow<T>[]; clock: string[] };
    });
  }

  /** Rows of an index (a field or a map function) over the docs as they were. */
  query(
    index: string | MapFn<T>,
    options: QueryOptions = {},
  ): Promise<{ rows: QueryRow<T>[] }> {
    return this.#read(
      () =>
        this.#indexes.query(index as string | MapFn, options) as Promise<{
          rows: QueryRow<T>[];
        }>,
    );
  }

  /** A view is read-only: throws a `ReadOnlyError`. */
  put(_doc: unknown): Promise<never> {
    return this.#refuse("put");
  }

  /** A view is read-only: throws a `ReadOnlyError`. */
  bulk(_docs: unknown): Promise<never> {
    return this.#refuse("bulk");
  }

  /** A view is read-only: throws a `ReadOnlyError`. */
  del(_id: unknown): Promise<never> {
    return this.#refuse("del");
  }

  #refuse(operation: string): Promise<never> {
    return Promise.reject(
      new ReadOnlyError(this.name, operation, "is a view of a past clock"),
    );
  }

  async #read<R>(fn: () => Promise<R>): Promise<R> {
    if (this.#parts.isClosed()) throw new ClosedError(`ledger ${this.name}`);
    return fn();
  }
}
