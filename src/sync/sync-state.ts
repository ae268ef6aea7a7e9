// What a ledger remembers of each remote across restarts — the durable half of its outbox.
// The commits not yet acknowledged are exactly those not reachable from `pushed` ∪ `remote`,
// so the outbox needs no list of its own: it is recomputed from the clock after a restart.
import { fromUtf8, utf8 } from "../util/bytes.js";
import { CorruptError } from "../util/errors.js";

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

export interface SyncStates {
  readonly remotes: Record<string, SyncState>;
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
  const remotes: Record<string, SyncState> = {};
  for (const [id, s] of Object.entries(v.remotes as Record<string, unknown>)) {
    const r = s as Partial<Record<keyof SyncState, unknown>>;
    const isList = (x: unknown): x is string[] =>
      Array.isArray(x) && x.every((e) => typeof e === "string");
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
