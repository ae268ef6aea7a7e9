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
import { SignatureError } from "../util/errors.js";

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
}

export class Merger {
  readonly #p: MergerParts;

  constructor(parts: MergerParts) {
    this.#p = parts;
  }

  /**
   * Merges commits into the state and records the new heads in storage; returns the ids that
   * changed. `commits` must hold every commit between the known clock and them. `incoming`
   * are commits not stored yet: they are verified and decrypted first, and stored only when
   * all of them are good, so a commit under another key never reaches storage.
   * `headsStored`: the commits came from storage with their heads (another handle wrote
   * them), so the head set there already holds the merged frontier.
   */
  merge(
    commits: readonly CID[],
    incoming: readonly WireCommit[] | undefined,
    origin: unknown,
    headsStored = false,
  ): Promise<string[]> {
    const { ledger, storage, loader, blocks, cids, queue, events } = this.#p;
    return queue.run(async () => {
      await loader.ready();
      const { state } = loader;
      let merged;
      blocks.incoming =
        incoming && new Map(incoming.map((c) => [cidKey(c.cid), c.bytes]));
      const opened = new Map<string, OpenedCommit>();
      try {
        merged = await readNewEvents(
          (cid) => blocks.openCommit(cid),
          state.clock,
          commits,
          (o) => opened.set(o.event.cid, o),
        );
      } finally {
        blocks.incoming = undefined;
      }
      if (merged.length === 0) return [];
      if (incoming) {
        const fresh = new Set(merged.map((e) => e.cid));
        // Signatures are checked together: the checks run in the thread pool, in parallel.
        await verifySignatures(
          this.#p.signing,
          [...opened.values()].filter((o) => fresh.has(o.event.cid)),
        );
        await Promise.all(
          incoming
            .filter((c) => fresh.has(cidString(c.cid)))
            .map((c) => storage.putCommit(ledger, c.cid, c.bytes)),
        );
      }
      const before = new Set(state.clock.heads);
      const { changed } = await state.merge(merged);
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
      this.#p.checkpointer.added(merged.reduce((n, e) => n + e.ops.length, 0));
      events.emitChange({ commits: merged.map((e) => e.cid), origin });
      if (events.wantsRows) events.emitRows(await this.#p.reader.rows(changed));
      return changed;
    });
  }
}

/**
 * Throws SignatureError naming the first commit whose signature does not verify. The checks
 * run in the thread pool a window at a time: enough to keep every core busy, few enough
 * that other work queued there (file I/O, other sessions) is not held up behind thousands.
 */
export async function verifySignatures(
  signing: SigningProvider,
  commits: readonly OpenedCommit[],
): Promise<void> {
  for (let from = 0; from < commits.length; from += VERIFY_WINDOW) {
    const window = commits.slice(from, from + VERIFY_WINDOW);
    const results = await Promise.all(
      window.map((o) =>
        o.writer && o.signature
          ? signing.verify(o.writer, o.signature.message, o.signature.s)
          : Promise.resolve(true),
      ),
    );
    const bad = results.indexOf(false);
    if (bad >= 0) throw new SignatureError(window[bad]!.event.cid);
  }
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
): Promise<number> {
  const merged = await readNewEvents(
    (cid) => blocks.openCommit(cid),
    state.clock,
    heads,
  );
  if (merged.length === 0) return 0;
  await state.merge(merged);
  return merged.reduce((n, e) => n + e.ops.length, 0);
}
