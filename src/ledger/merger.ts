// Folding commits made elsewhere (a remote, or storage replayed on open) into the merged
// state: read, verify and decrypt them, store those that came from a remote, merge their
// events, record the new heads and tell the listeners.
import type { CID } from "multiformats/cid";
import { cidKey, cidString } from "../blocks/cid.js";
import type { LedgerState } from "../crdt/ledger-state.js";
import type { Gateway } from "../gateways/gateway.js";
import type { WireCommit } from "../sync/protocol/index.js";
import type { SerialQueue } from "../util/serial-queue.js";
import type { BlockSource } from "./block-source.js";
import type { Checkpointer } from "./checkpointer.js";
import type { CommitCids } from "./commit-cids.js";
import { readNewEvents } from "./commit-reader.js";
import type { OpenedCommit } from "./commit-reader.js";
import type { DocReader } from "./doc-reader.js";
import type { LedgerEvents } from "./ledger-events.js";
import type { StateLoader } from "./state-loader.js";
import type { SigningProvider } from "../trust/signing.js";
import { KeyError, SignatureError } from "../util/errors.js";
import { compareEvents } from "../crdt/clock.js";
import { decodeCommitEnvelope } from "../blocks/envelope.js";
import type { MergeEvent } from "../crdt/merge.js";
import type { LedgerMembers } from "./ledger-members.js";
import type { CommitFacts } from "./member-facts.js";

export interface MergerParts {
  ledger: string;
  storage: Gateway;
  loader: StateLoader;
  blocks: BlockSource;
  cids: CommitCids;
  queue: SerialQueue;
  events: LedgerEvents;
  reader: DocReader;
  checkpointer: Checkpointer;
  signing: SigningProvider;
  members: LedgerMembers;
}

export class Merger {
  readonly #p: MergerParts;

  constructor(parts: MergerParts) {
    this.#p = parts;
  }

  /**
   * Merges commits into the state and records the new heads in storage; returns the ids that
   * changed and the commits refused. `commits` must hold every commit between the known
   * clock and them. `incoming` are commits not stored yet: they are verified and decrypted
   * first, and each is checked — its signature, then the membership rule — parents first.
   * A refused commit (and whatever follows it) is neither merged nor stored, and is
   * reported on the ledger's `error` event; the rest is merged.
   * `headsStored`: the commits came from storage with their heads (another handle wrote
   * them), so the head set there already holds the merged frontier.
   */
  merge(
    commits: readonly CID[],
    incoming: readonly WireCommit[] | undefined,
    origin: unknown,
    headsStored = false,
  ): Promise<{ changed: string[]; refused: Error[] }> {
    const { ledger, storage, loader, blocks, cids, queue, events, members } =
      this.#p;
    return queue.run(async () => {
      await loader.ready();
      const { state } = loader;
      let merged;
      blocks.incoming =
        incoming && new Map(incoming.map((c) => [cidKey(c.cid), c.bytes]));
      // Keys rotated to in this batch are opened first: later commits are sealed under them.
      if (incoming) await members.learnKeys(incoming.flatMap(clearFacts));
      const opened = new Map<string, OpenedCommit>();
      // Commits under a key this replica was never given (it was removed): skipped, with
      // what follows them, and reported; the rest merges (docs/security.md).
      const locked = new Map<string, Error>();
      try {
        merged = await readNewEvents(
          async (cid) => {
            try {
              return await blocks.openCommit(cid);
            } catch (error) {
              if (!(error instanceof KeyError && error.code === "missing-key"))
                throw error;
              const bytes =
                blocks.incoming?.get(cidKey(cid)) ??
                (await storage.getCommit(ledger, cid));
              const envelope = decodeCommitEnvelope(bytes!, cidString(cid));
              locked.set(cidString(cid), error);
              return lockedCommit(cidString(cid), envelope.parents);
            }
          },
          state.clock,
          commits,
          (o) => opened.set(o.event.cid, o),
        );
      } finally {
        blocks.incoming = undefined;
      }
      let refused: Error[] = [];
      if (locked.size > 0) {
        const skip = new Set(locked.keys());
        for (let grew = true; grew;) {
          grew = false;
          for (const e of merged)
            if (!skip.has(e.cid) && e.parents.some((p) => skip.has(p))) {
              skip.add(e.cid);
              grew = true;
            }
        }
        merged = merged.filter((e) => !skip.has(e.cid));
        for (const c of skip) opened.delete(c);
        refused = [...locked.values()];
      }
      if (merged.length === 0) {
        for (const error of refused) events.emitError(error);
        return { changed: [], refused };
      }
      if (incoming) {
        const checked = await this.#check(
          merged.map((e) => opened.get(e.cid)!),
        );
        refused = [...refused, ...checked.refused];
        merged = merged.filter((e) => !checked.skipped.has(e.cid));
        const kept = new Set(merged.map((e) => e.cid));
        await Promise.all(
          incoming
            .filter((c) => kept.has(cidString(c.cid)))
            .map((c) => storage.putCommit(ledger, c.cid, c.bytes)),
        );
      } else members.admit(merged.map((e) => factsOf(opened.get(e.cid)!)));
      for (const error of refused) events.emitError(error);
      if (merged.length === 0) return { changed: [], refused };
      const before = new Set(state.clock.heads);
      // A void commit keeps its place in the DAG and writes nothing (docs/security.md).
      const { changed } = await state.merge(
        merged.map((e) => (members.isVoid(e.cid) ? voidEvent(e) : e)),
      );
      const voided = members
        .takeVoided()
        .filter((c) => state.clock.has(c) && !opened.has(c));
      if (voided.length > 0)
        changed.push(
          ...(await state.retract(
            voided,
            (c) => members.isVoid(c),
            async (event, id) => {
              const o = await blocks.openCommit(cids.cid(event));
              return o.event.ops.find((op) => op[0] === id)?.[1] ?? null;
            },
          )),
        );
      // The rows read the docs just merged: keep them from the commits already opened
      // rather than decrypting those again.
      if (events.wantsRows)
        for (const [commit, o] of opened) blocks.cacheDocs(commit, o);
      const after = state.clock.heads;
      const add = after.filter((h) => !before.has(h));
      const remove = [...before].filter((h) => !after.includes(h));
      if (!headsStored && (add.length > 0 || remove.length > 0))
        await storage.putHeads(ledger, {
          add: add.map((h) => cids.cid(h)),
          remove: remove.map((h) => cids.cid(h)),
        });
      await members.persistNew();
      this.#p.checkpointer.added(merged.reduce((n, e) => n + e.ops.length, 0));
      events.emitChange({ commits: merged.map((e) => e.cid), origin });
      if (events.wantsRows) events.emitRows(await this.#p.reader.rows(changed));
      return { changed, refused };
    });
  }

  /**
   * Checks commits from elsewhere, parents first: the signatures (together, in the thread
   * pool), then the membership rule. Returns the commits not to merge — refused, or
   * following a refused one — and the refusals.
   */
  async #check(
    commits: readonly OpenedCommit[],
  ): Promise<{ skipped: Set<string>; refused: Error[] }> {
    const ordered = [...commits].sort((a, b) =>
      compareEvents(a.event, b.event),
    );
    const bad = await badSignatures(this.#p.signing, ordered);
    const skipped = new Set<string>();
    const refused: Error[] = [];
    for (const o of ordered) {
      const { cid } = o.event;
      if (o.event.parents.some((p) => skipped.has(p))) {
        skipped.add(cid);
        continue;
      }
      const error =
        bad.get(cid) ?? this.#p.members.admit([factsOf(o)]).get(cid);
      if (error) {
        skipped.add(cid);
        refused.push(error);
      }
    }
    return { skipped, refused };
  }
}

function factsOf(o: OpenedCommit): CommitFacts {
  return {
    cid: o.event.cid,
    parents: o.event.parents,
    writer: o.writer,
    ...(o.record ? { record: o.record } : {}),
  };
}

/** A commit's facts from its envelope alone (no decryption); none when it is malformed. */
function clearFacts(c: WireCommit): CommitFacts[] {
  try {
    const e = decodeCommitEnvelope(c.bytes, cidString(c.cid));
    if (!e.m) return [];
    return [
      {
        cid: cidString(c.cid),
        parents: e.parents.map((p) => cidString(p)),
        writer: e.w,
        record: e.m,
      },
    ];
  } catch {
    return []; // refused when opened
  }
}

/** A commit this replica cannot open: its place in the DAG only, never merged. */
function lockedCommit(cid: string, parents: readonly CID[]): OpenedCommit {
  return {
    event: {
      cid,
      parents: parents.map((p) => cidString(p)),
      height: 0,
      ids: [],
      ops: [],
    },
    parents: [...parents],
    docs: new Map(),
    writer: new Uint8Array(32),
    signature: { s: new Uint8Array(64), message: new Uint8Array(0) },
  };
}

/** A void commit's event: its place in the DAG, no ops (it writes nothing). */
export function voidEvent(e: MergeEvent): MergeEvent {
  return { cid: e.cid, parents: e.parents, height: e.height, ids: [], ops: [] };
}

/**
 * The commits whose signatures do not verify, by CID. The checks run in the thread pool a
 * window at a time: enough to keep every core busy, few enough that other work queued
 * there (file I/O, other sessions) is not held up behind thousands.
 */
async function badSignatures(
  signing: SigningProvider,
  commits: readonly OpenedCommit[],
): Promise<Map<string, SignatureError>> {
  const bad = new Map<string, SignatureError>();
  for (let from = 0; from < commits.length; from += VERIFY_WINDOW) {
    const window = commits.slice(from, from + VERIFY_WINDOW);
    const results = await Promise.all(
      window.map((o) =>
        signing.verify(o.writer, o.signature.message, o.signature.s),
      ),
    );
    results.forEach((ok, i) => {
      const cid = window[i]!.event.cid;
      if (!ok) bad.set(cid, new SignatureError(cid));
    });
  }
  return bad;
}

const VERIFY_WINDOW = 16;

/**
 * Replays the stored commits between the state's clock and `heads` (on open, after a
 * crash before the next checkpoint); returns how many ops it merged.
 */
export async function replayCommits(
  state: LedgerState,
  blocks: BlockSource,
  heads: readonly CID[],
  isVoid: (commit: string) => boolean,
): Promise<number> {
  const merged = await readNewEvents(
    (cid) => blocks.openCommit(cid),
    state.clock,
    heads,
  );
  if (merged.length === 0) return 0;
  await state.merge(merged.map((e) => (isVoid(e.cid) ? voidEvent(e) : e)));
  return merged.reduce((n, e) => n + e.ops.length, 0);
}
