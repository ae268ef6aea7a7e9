// The read path of the SyncServer: which commits a client lacks, and those commits loaded from
// the backend and packed into `commits` messages within maxMessage — for a pull's answer and
// for each live change of a subscribed ledger.
import type { CID } from "multiformats/cid";
import { cidKey } from "../blocks/cid.js";
import { ProtocolError } from "../sync/protocol/index.js";
import type { Commits } from "../sync/protocol/index.js";
import { utf8Length } from "../util/bytes.js";
import type { Backend, LedgerChange, StoredSnapshot } from "./backend.js";
import { missingCommitsFrom } from "./missing.js";

/** CIDs per backend read while streaming a catch-up. */
const READ_CHUNK = 256;

/** What a pull answers: the server heads, the commits the client lacks, maybe a snapshot. */
export interface Difference {
  heads: CID[];
  missing: CID[];
  snapshot?: StoredSnapshot;
}

/**
 * The server heads and the commits reachable from them that `have` does not reach, parents
 * first. The heads are read first, so every commit they reach is in the list (it may hold
 * more, from a push that landed in between). With `snapshot` (the pull offered to start
 * from one), when the ledger has a snapshot and `have` names no commit held here — or the
 * client lacks commits whose bytes were dropped (ledger-retain.ts) — the answer starts from
 * it: `snapshot` is set and `missing` holds only the commits after it. A client that lacks
 * dropped commits and did not offer gets history-gone.
 */
export async function difference(
  backend: Backend,
  ledger: string,
  have: readonly CID[],
  snapshot = false,
): Promise<Difference> {
  const heads = await backend.getHeads(ledger);
  // The snapshot (up to maxMessage bytes) is read only when the answer starts from it.
  if (snapshot && heads.length > 0) {
    const known = have.length === 0 ? [] : await backend.getMeta(ledger, have);
    const held = known.every((m) => m === undefined)
      ? await backend.getSnapshot(ledger)
      : undefined;
    if (held) return fromSnapshot(backend, ledger, heads, have, held);
  }
  const missing = await missingCommitsFrom(backend, ledger, heads, have);
  if (!missing.dropped) return { heads, missing: missing.cids };
  const held = snapshot ? await backend.getSnapshot(ledger) : undefined;
  if (held) return fromSnapshot(backend, ledger, heads, have, held);
  throw new ProtocolError(
    "history-gone",
    `ledger ${JSON.stringify(ledger.slice(0, 64))}: the server let go of commits this pull needs (a snapshot covers them); pull with snapshot: true`,
  );
}

async function fromSnapshot(
  backend: Backend,
  ledger: string,
  heads: CID[],
  have: readonly CID[],
  snapshot: StoredSnapshot,
): Promise<Difference> {
  const missing = await missingCommitsFrom(backend, ledger, heads, [
    ...have,
    ...snapshot.heads,
  ]);
  return { heads, missing: missing.cids, snapshot };
}

/** Loads `cids` in chunks and yields them as `commits` messages of at most maxMessage. */
export async function* commitBatches(
  backend: Backend,
  maxMessage: number,
  ledger: string,
  cids: readonly CID[],
  id?: number,
  reserveHeads: readonly CID[] = [],
): AsyncGenerator<Commits> {
  const packer = new BatchPacker(ledger, maxMessage, id, reserveHeads);
  // A pull's answer tells its size up front (commits.total), on the first message.
  let first = id !== undefined;
  const counted = (m: Commits): Commits => {
    if (first) m.total = cids.length;
    first = false;
    return m;
  };
  for (let at = 0; at < cids.length; at += READ_CHUNK) {
    const chunk = cids.slice(at, at + READ_CHUNK);
    const bytes = await backend.getCommits(ledger, chunk);
    for (let i = 0; i < chunk.length; i++) {
      const b = bytes[i];
      if (b === undefined)
        throw new ProtocolError(
          "unavailable",
          `storage lost commit ${chunk[i]!.toString()} of a head set; try again later`,
        );
      const full = packer.add(chunk[i]!, b);
      if (full) yield counted(full);
    }
  }
  const last = packer.finish();
  if (last) yield counted(last);
}

/**
 * The live `commits` messages for a change of a subscribed ledger: its commits (less those
 * in `skip`, already sent), the last message carrying the new heads.
 */
export async function liveBatches(
  backend: Backend,
  maxMessage: number,
  ledger: string,
  change: LedgerChange,
  skip: ReadonlySet<string> | undefined,
): Promise<Commits[]> {
  const keep = (cid: CID) => !skip?.has(cidKey(cid));
  const messages: Commits[] = [];
  const heads = [...change.heads];
  if (change.commits) {
    const packer = new BatchPacker(ledger, maxMessage, undefined, heads);
    for (const c of change.commits)
      if (keep(c.cid)) {
        const full = packer.add(c.cid, c.bytes);
        if (full) messages.push(full);
      }
    messages.push(packer.finish() ?? packer.empty());
    return attachHeads(messages, heads);
  }
  const added = change.added.filter(keep);
  for await (const m of commitBatches(
    backend,
    maxMessage,
    ledger,
    added,
    undefined,
    heads,
  ))
    messages.push(m);
  if (messages.length === 0)
    messages.push({ t: "commits", ledger, commits: [] });
  return attachHeads(messages, heads);
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
