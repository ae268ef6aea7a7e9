// Who may write a ledger, derived from its membership records alone: pure, no I/O, no
// decryption, so the client and the blind SyncServer run the same rule.
//
// Records travel as commits (docs/format.md, envelope field `m`), so the commit DAG orders
// them. The membership at a point of history — the set of records among a commit's
// ancestors — is a fold of those records in a deterministic order (record depth, then CID)
// in which a record takes effect when its writer is then an admin (or removes itself), and
// is not void (below). It depends only on the set, never on arrival order, so replicas that
// hold the same records agree (membership.test.ts, seeded).
//
// A commit is refused when, at the point its parents make, its writer is no member (or, for
// a membership record, no admin; a member may remove itself), when it is unsigned in a
// signed ledger, or when it is a second `create`. These depend only on the commit's own
// ancestry, so every replica and the server decide alike.
//
// A commit by W that a removal of W does not follow (concurrent with the removal, or on
// pre-removal parents after it) is void: it stays in the DAG, so commits of others built
// on it still merge, but it counts for nothing (isVoid). Refusing it outright on arrival
// would make replicas diverge: one that took it before the removal reached it, and built
// on it, could never sync its own later commits to one that refused it.
// A ledger without a `create` record is unsigned: it admits any commit until it has one.
import type { MembershipRecord, Role } from "./membership-record.js";
import { encodeWriter } from "./signing.js";

/** What the rule needs of a commit: its place in the DAG, writer and record. */
export interface MemberCommit {
  readonly cid: string;
  readonly parents: readonly string[];
  /** The writer's public key as text (encodeWriter); undefined when unsigned. */
  readonly writer: string | undefined;
  readonly record?: MembershipRecord | undefined;
}

export type RefusalCode =
  "unsigned" | "not-member" | "not-admin" | "second-creator" | "missing-parent";

export interface MembershipRefusal {
  readonly code: RefusalCode;
  readonly detail: string;
}

export interface Members {
  /** The creator's public key; undefined for an unsigned ledger. */
  readonly creator: string | undefined;
  /** Each member's role, by public key (text). */
  readonly roles: ReadonlyMap<string, Role>;
}

interface Point {
  /** Record CIDs at or below this point. */
  readonly records: ReadonlySet<string>;
  members?: Members;
}

interface RecordEntry {
  readonly cid: string;
  readonly writer: string;
  readonly record: MembershipRecord;
  /** 1 + the greatest depth of the records below it. */
  readonly depth: number;
  /** The point its parents make (records strictly below it). */
  readonly below: Point;
}

const EMPTY: Point = {
  records: new Set(),
  members: { creator: undefined, roles: new Map() },
};

export class MembershipIndex {
  /** Point after each admitted commit (it included, if it is a record). */
  readonly #after = new Map<string, Point>();
  readonly #records = new Map<string, RecordEntry>();
  readonly #interned = new Map<string, Point>();
  /** Admitted removal records, by the key they remove. */
  readonly #removals = new Map<string, string[]>();
  /** Parents and writer of every admitted commit, to find what a new removal follows. */
  readonly #parents = new Map<string, readonly string[]>();
  readonly #byWriter = new Map<string, string[]>();
  readonly #void = new Set<string>();
  /** Commits admitted earlier that a removal admitted since made void (takeVoided). */
  #voided: string[] = [];
  #create: string | undefined;

  /** True once the ledger has its `create` record: from then on every commit must be signed by a member. */
  get isSigned(): boolean {
    return this.#create !== undefined;
  }

  /** The CID of the `create` record, if known. */
  get creatorRecord(): string | undefined {
    return this.#create;
  }

  has(cid: string): boolean {
    return this.#after.has(cid);
  }

  /**
   * Admits `commit` (its parents admitted before it) or returns why not; a refused commit
   * changes nothing. A commit admitted already is admitted again without a check.
   */
  admit(
    commit: MemberCommit,
    options: { trusted?: boolean } = {},
  ): MembershipRefusal | undefined {
    if (this.#after.has(commit.cid)) return undefined;
    const parents: Point[] = [];
    for (const p of commit.parents) {
      const point = this.#after.get(p);
      if (!point)
        return refuse(
          "missing-parent",
          `commit ${commit.cid} follows ${p}, which is not admitted`,
        );
      parents.push(point);
    }
    const at = this.#merge(parents);
    // Trusted: admitted once already (read back from a store that checked it on arrival).
    const refusal = options.trusted ? undefined : this.#check(commit, at);
    if (refusal) return refusal;
    const { record, writer } = commit;
    this.#parents.set(commit.cid, commit.parents);
    if (writer !== undefined) {
      this.#byWriter.set(writer, [
        ...(this.#byWriter.get(writer) ?? []),
        commit.cid,
      ]);
      // A removal of its writer that it does not follow: it arrives after, so it cannot
      // be an ancestor of it.
      for (const removal of this.#removals.get(writer) ?? [])
        if (!at.records.has(removal)) this.#void.add(commit.cid);
    }
    if (record && writer !== undefined) {
      let depth = 1;
      for (const r of at.records)
        depth = Math.max(depth, this.#records.get(r)!.depth + 1);
      this.#records.set(commit.cid, {
        cid: commit.cid,
        writer,
        record,
        depth,
        below: at,
      });
      if (record.op === "create") this.#create = commit.cid;
      if (record.op === "remove") {
        const key = encodeWriter(record.key);
        this.#removals.set(key, [
          ...(this.#removals.get(key) ?? []),
          commit.cid,
        ]);
        this.#voidConcurrent(commit.cid, key);
      }
      this.#after.set(
        commit.cid,
        this.#intern(new Set([...at.records, commit.cid])),
      );
    } else this.#after.set(commit.cid, at);
    return undefined;
  }

  /**
   * True when a removal of the commit's writer is known that the commit does not precede:
   * the commit stays in the DAG but counts for nothing. Can turn true when a removal
   * arrives; never turns back.
   */
  isVoid(cid: string): boolean {
    return this.#void.has(cid);
  }

  /** Marks `writer`'s commits that `removal` does not follow (a walk of its ancestry). */
  #voidConcurrent(removal: string, writer: string): void {
    const theirs = this.#byWriter.get(writer);
    if (!theirs?.length) return;
    const ancestors = new Set<string>();
    const stack = [...(this.#parents.get(removal) ?? [])];
    while (stack.length > 0) {
      const cid = stack.pop()!;
      if (ancestors.has(cid)) continue;
      ancestors.add(cid);
      for (const p of this.#parents.get(cid) ?? []) stack.push(p);
    }
    for (const cid of theirs)
      if (cid !== removal && !ancestors.has(cid) && !this.#void.has(cid)) {
        this.#void.add(cid);
        this.#voided.push(cid);
      }
  }

  /**
   * The commits, admitted before, that removals admitted since the last call made void: a
   * replica that merged their ops must take them back out (crdt/ledger-state.ts, retract).
   */
  takeVoided(): string[] {
    const voided = this.#voided;
    this.#voided = [];
    return voided;
  }

  /** The membership at the point `heads` make (every head admitted). */
  membersAt(heads: readonly string[]): Members {
    const points = heads.map((h) => {
      const point = this.#after.get(h);
      if (!point)
        throw new RangeError(`members at: commit ${h} is not admitted`);
      return point;
    });
    return this.#members(this.#merge(points));
  }

  /** The membership records at or below `heads`, oldest first (the fold's order). */
  recordsAt(heads: readonly string[]): MemberCommit[] {
    const points = heads.map((h) => this.#after.get(h) ?? EMPTY);
    return this.#ordered(this.#merge(points)).map((e) => ({
      cid: e.cid,
      parents: [],
      writer: e.writer,
      record: e.record,
    }));
  }

  #check(commit: MemberCommit, at: Point): MembershipRefusal | undefined {
    const { writer, record } = commit;
    const name = `commit ${commit.cid}`;
    if (writer === undefined)
      return this.#create === undefined && record === undefined
        ? undefined
        : refuse("unsigned", `${name} is unsigned in a signed ledger`);
    if (record?.op === "create") {
      if (this.#create !== undefined)
        return refuse(
          "second-creator",
          `${name} creates the membership of a ledger that has one (${this.#create})`,
        );
      if (commit.parents.length > 0)
        return refuse(
          "second-creator",
          `${name} creates a membership but is not the ledger's first commit`,
        );
      return undefined;
    }
    if (this.#create === undefined && at.records.size === 0)
      return record
        ? refuse("not-admin", `${name} changes members of an unsigned ledger`)
        : undefined;
    const members = this.#members(at);
    const role = members.roles.get(writer);
    if (role === undefined)
      return refuse(
        "not-member",
        `${name}: writer ${writer} is not a member at its parents`,
      );
    if (record) {
      const self =
        record.op === "remove" && encodeWriter(record.key) === writer;
      if (role !== "admin" && !self)
        return refuse(
          "not-admin",
          `${name}: writer ${writer} is not an admin at its parents`,
        );
    }
    return undefined;
  }

  #members(point: Point): Members {
    if (point.members) return point.members;
    let creator: string | undefined;
    const roles = new Map<string, Role>();
    const ordered = this.#ordered(point);
    for (const entry of ordered) {
      const { writer, record } = entry;
      // A record concurrent with a removal of its writer (in this point) is void.
      if (this.#isVoided(entry, point)) continue;
      if (record.op === "create") {
        creator = writer;
        roles.set(writer, "admin");
        continue;
      }
      const key = encodeWriter(record.key);
      const self = record.op === "remove" && key === writer;
      if (roles.get(writer) !== "admin" && !(self && roles.has(writer)))
        continue;
      if (record.op === "add") roles.set(key, record.role);
      else roles.delete(key);
    }
    point.members = { creator, roles };
    return point.members;
  }

  #isVoided(entry: RecordEntry, point: Point): boolean {
    for (const removal of this.#removals.get(entry.writer) ?? []) {
      if (!point.records.has(removal) || removal === entry.cid) continue;
      const r = this.#records.get(removal)!;
      const concurrent =
        !entry.below.records.has(removal) && !r.below.records.has(entry.cid);
      if (concurrent) return true;
    }
    return false;
  }

  #ordered(point: Point): RecordEntry[] {
    return [...point.records]
      .map((r) => this.#records.get(r)!)
      .sort((a, b) =>
        a.depth !== b.depth
          ? a.depth - b.depth
          : a.cid < b.cid
            ? -1
            : a.cid > b.cid
              ? 1
              : 0,
      );
  }

  /** The point of the union of `points`: the same object when they are all one. */
  #merge(points: readonly Point[]): Point {
    const first = points[0];
    if (!first) return EMPTY;
    if (points.every((p) => p === first)) return first;
    const records = new Set<string>();
    for (const p of points) for (const r of p.records) records.add(r);
    return this.#intern(records);
  }

  #intern(records: ReadonlySet<string>): Point {
    if (records.size === 0) return EMPTY;
    // A downward-closed set of records is named by its maximal ones.
    const below = new Set<string>();
    for (const r of records)
      for (const b of this.#records.get(r)?.below.records ?? []) below.add(b);
    const key = [...records]
      .filter((r) => !below.has(r))
      .sort()
      .join(",");
    let point = this.#interned.get(key);
    if (!point) this.#interned.set(key, (point = { records }));
    return point;
  }
}

function refuse(code: RefusalCode, detail: string): MembershipRefusal {
  return { code, detail };
}
