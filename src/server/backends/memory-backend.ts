// memory:// — an in-process, ephemeral backend: for `kiln serve --storage memory://` and for
// tests. Every call applies in one step without yielding, so concurrent calls are atomic with
// respect to each other; there is nothing to make durable.
import type { CID } from "../../blocks/cid.js";
import { cidKey } from "../../blocks/cid.js";
import { ClosedError } from "../../util/errors.js";
import { checkLedgerName } from "../../util/ledger-name.js";
import type {
  Backend,
  CommitMeta,
  LedgerChange,
  StoredCommit,
  StoredSnapshot,
} from "../backend.js";
import { LedgerWatchers } from "./ledger-watchers.js";
import { checkTokenId, RevocationSet } from "./revocation-set.js";
import { planPut, sortedHeads } from "./plan-put.js";
import { settle } from "./settle.js";

interface HeldCommit {
  /** Undefined once dropped (dropCommits): the meta stays. */
  bytes: Uint8Array | undefined;
  meta: CommitMeta;
}

interface MemoryLedger {
  readonly commits: Map<string, HeldCommit>;
  heads: ReadonlyMap<string, CID>;
  /** getHeads() answer, kept until the heads change. */
  sorted: CID[] | undefined;
  /** Bytes of the commits held (storedBytes). */
  bytes: number;
}

/** An ephemeral backend in process memory (tests, demos). */
export function createMemoryBackend(): Backend {
  const ledgers = new Map<string, MemoryLedger>();
  const snapshots = new Map<string, StoredSnapshot>();
  const watchers = new LedgerWatchers();
  const revoked = new RevocationSet();
  let closed = false;

  const check = (operation: string, ledger: string): void => {
    if (closed) throw new ClosedError("memory backend");
    checkLedgerName(operation, ledger);
  };
  const headsOf = (entry: MemoryLedger): CID[] =>
    (entry.sorted ??= sortedHeads(entry.heads));

  return {
    putCommits: (ledger, commits, origin, quota) =>
      settle(() => {
        check("put commits", ledger);
        let entry = ledgers.get(ledger);
        const plan = planPut(
          ledger,
          commits,
          (key) => entry?.commits.get(key)?.meta.height,
          entry?.heads ?? new Map<string, CID>(),
          { held: entry?.bytes ?? 0, max: quota },
        );
        if (plan.added.length === 0)
          return { heads: entry ? [...headsOf(entry)] : [], added: [] };
        if (!entry) {
          entry = {
            commits: new Map(),
            heads: new Map(),
            sorted: undefined,
            bytes: 0,
          };
          ledgers.set(ledger, entry);
        }
        const stored: StoredCommit[] = [];
        for (const { key, commit, height } of plan.added) {
          // A copy (new Uint8Array copies; a Buffer's slice() would not): the caller may
          // reuse its buffer.
          const bytes = new Uint8Array(commit.bytes);
          const parents = [...commit.parents];
          entry.commits.set(key, { bytes, meta: { parents, height } });
          stored.push({ cid: commit.cid, bytes, parents });
        }
        entry.heads = plan.heads;
        entry.sorted = undefined;
        entry.bytes += plan.bytes;
        const heads = headsOf(entry);
        const added = plan.added.map(({ commit }) => commit.cid);
        // Watchers share the kept bytes (no copy per watcher): they must not modify them.
        const change: LedgerChange =
          origin === undefined
            ? { heads: [...heads], added: [...added], commits: stored }
            : { heads: [...heads], added: [...added], commits: stored, origin };
        watchers.emit(ledger, change);
        return { heads: [...heads], added };
      }),

    getCommits: (ledger, cids) =>
      settle(() => {
        check("get commits", ledger);
        const commits = ledgers.get(ledger)?.commits;
        return cids.map((cid) => {
          const bytes = commits?.get(cidKey(cid))?.bytes;
          return bytes && new Uint8Array(bytes);
        });
      }),

    getMeta: (ledger, cids) =>
      settle(() => {
        check("get meta", ledger);
        const commits = ledgers.get(ledger)?.commits;
        return cids.map((cid) => {
          const meta = commits?.get(cidKey(cid))?.meta;
          return meta && { ...meta, parents: [...meta.parents] };
        });
      }),

    getHeads: (ledger) =>
      settle(() => {
        check("get heads", ledger);
        const entry = ledgers.get(ledger);
        return entry ? [...headsOf(entry)] : [];
      }),

    storedBytes: (ledger) =>
      settle(() => {
        check("count stored bytes", ledger);
        return ledgers.get(ledger)?.bytes ?? 0;
      }),

    putSnapshot: (ledger, snapshot) =>
      settle(() => {
        check("put snapshot", ledger);
        snapshots.set(ledger, copySnapshot(snapshot));
      }),

    getSnapshot: (ledger) =>
      settle(() => {
        check("get snapshot", ledger);
        const held = snapshots.get(ledger);
        return held && copySnapshot(held);
      }),

    dropCommits: (ledger, cids) =>
      settle(() => {
        check("drop commits", ledger);
        const entry = ledgers.get(ledger);
        if (!entry) return 0;
        let dropped = 0;
        for (const cid of cids) {
          const held = entry.commits.get(cidKey(cid));
          if (!held?.bytes) continue;
          entry.bytes -= held.bytes.length;
          held.bytes = undefined;
          held.meta = { ...held.meta, dropped: true };
          dropped++;
        }
        return dropped;
      }),

    deleteLedger: (ledger) =>
      settle(() => {
        check("delete ledger", ledger);
        ledgers.delete(ledger);
        snapshots.delete(ledger);
      }),

    watch(ledger, onChange) {
      check("watch", ledger);
      return watchers.add(ledger, onChange);
    },

    revokeToken: (id) =>
      settle(() => {
        if (closed) throw new ClosedError("memory backend");
        checkTokenId(id);
        revoked.add(id);
      }),

    revokedTokens: () => settle(() => revoked.list()),

    watchRevocations: (onRevoked) => revoked.watch(onRevoked),

    close: () => {
      closed = true;
      watchers.clear();
      revoked.clear();
      ledgers.clear();
      snapshots.clear();
      return Promise.resolve();
    },
  };
}

/** A copy: neither the caller's buffer nor a returned one may change what is held. */
function copySnapshot(s: StoredSnapshot): StoredSnapshot {
  return {
    cid: s.cid,
    bytes: new Uint8Array(s.bytes),
    heads: [...s.heads],
    height: s.height,
  };
}
