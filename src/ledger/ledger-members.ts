// The ledger's side of membership (docs/security.md, "Members"): it feeds every commit —
// written here, merged from a remote, replayed on open — to the pure rule in
// src/trust/membership.ts, refuses local writes the rule would refuse everywhere, and puts
// the `create` record in the creator's first commit.
//
// A ledger opened with `members: true` on an empty store is membered: its first commit
// carries `create`, and from then on only members write. Any other ledger is open (every
// holder of the content key writes, as before) until a `create` record reaches it. The
// index is kept only once a ledger is membered. It is saved (meta record `members`) at
// close and before compaction; on reopen it is read back, and commits stored after the save
// are read from their envelopes, without decrypting. Reopen costs one decode of the saved
// facts (O(history) bytes, ~80 per commit) but no per-commit I/O (docs/format.md). Without
// the record (an open ledger, or an imported membered one) the envelopes are read: an open
// ledger keeps the heads it walked to (meta `members-open`), so a reopen reads only the
// envelopes stored since.
import type { CID } from "multiformats/cid";
import { cidString } from "../blocks/cid.js";
import type { SealExtras } from "../blocks/commit.js";
import type { Gateway, LocalStorage } from "../gateways/gateway.js";
import { decodeFacts, encodeFacts, readFacts } from "./member-facts.js";
import type { CommitFacts } from "./member-facts.js";
import type { MemberCommit, Members } from "../trust/membership.js";
import { MembershipIndex } from "../trust/membership.js";
import {
  decodeMembershipRecord,
  encodeMembershipRecord,
} from "../trust/membership-record.js";
import type {
  MembershipRecord,
  Role,
  SealedKey,
} from "../trust/membership-record.js";
import type { Aead } from "../trust/key-box.js";
import type { KeyRing } from "./key-ring.js";
import { MemberKeys } from "./member-keys.js";
import { encodeWriter } from "../trust/signing.js";
import { fromUtf8, utf8 } from "../util/bytes.js";
import { MembershipError } from "../util/errors.js";
import type { WriteGate } from "./group-commit.js";

/** A membered ledger's members (`ledger.members()`): writers as base64url public keys. */
export interface MemberList {
  /** The writer whose `create` record made the ledger. */
  readonly creator: string;
  /** Each member's role, by writer (sorted). */
  readonly roles: Readonly<Record<string, Role>>;
}

/** The meta record (LocalStorage.putMeta) the index is saved in. */
const META = "members";
/** The meta record in which an open ledger keeps the heads its last open walked to. */
const OPEN_META = "members-open";

export class LedgerMembers implements WriteGate {
  readonly #index = new MembershipIndex();
  /** Every admitted commit of a membered ledger, in admission order (what `save` keeps). */
  readonly #facts: CommitFacts[] = [];
  #saved = 0;
  readonly #writer: string;
  readonly #publicKey: Uint8Array;
  #pendingCreate: boolean;

  readonly #local: LocalStorage;
  readonly #ledger: string;

  readonly #ring: KeyRing;
  readonly #keys: MemberKeys;

  constructor(options: {
    ledger: string;
    local: LocalStorage;
    writer: Uint8Array;
    pendingCreate: boolean;
    ring: KeyRing;
    /** The writer's Ed25519 seed, to open the keys sealed for it. */
    seed: Uint8Array;
    aead: Aead;
  }) {
    this.#ring = options.ring;
    this.#ledger = options.ledger;
    this.#local = options.local;
    this.#publicKey = options.writer;
    this.#writer = encodeWriter(options.writer);
    this.#pendingCreate = options.pendingCreate;
    this.#keys = new MemberKeys({
      index: this.#index,
      ledger: options.ledger,
      local: options.local,
      writer: options.writer,
      ring: options.ring,
      seed: options.seed,
      aead: options.aead,
    });
  }

  /** True once the ledger has its `create` record: only members write. */
  get isMembered(): boolean {
    return this.#index.isSigned;
  }

  /** A membered ledger whose first commit (carrying `create`) is not written yet. */
  get isPendingCreate(): boolean {
    return this.#pendingCreate;
  }

  /** The CID of the ledger's `create` record, once known. */
  get createRecord(): string | undefined {
    return this.#index.creatorRecord;
  }

  beforeSeal(
    parents: readonly string[],
    record?: Uint8Array,
  ): { extras: SealExtras; key: Uint8Array } {
    if (this.#pendingCreate && parents.length === 0) {
      if (record)
        throw new MembershipError(
          "not-admin",
          "a membered ledger's first commit carries its create record alone",
        );
      return {
        extras: { record: encodeMembershipRecord({ op: "create" }) },
        key: this.#ring.first,
      };
    }
    if (this.#keys.pinned !== undefined && !this.isMembered)
      throw new MembershipError(
        "not-member",
        `this device joined ledger ${this.#ledger} by invitation and has not synced its membership yet: connect and sync first`,
      );
    this.#checkWriter(
      parents,
      record && decodeMembershipRecord(record, "local record"),
    );
    const current = this.currentKey(parents);
    return {
      extras: {
        ...(record ? { record } : {}),
        ...(current.id ? { keyId: current.id } : {}),
      },
      key: current.key,
    };
  }

  /** The content key new commits on `parents` are sealed under (MemberKeys.currentKey). */
  currentKey(parents: readonly string[]): { key: Uint8Array; id?: Uint8Array } {
    return this.#keys.currentKey(parents);
  }

  /** Opens and keeps the content keys sealed for this writer in `commits`' records. */
  learnKeys(commits: readonly CommitFacts[]): Promise<void> {
    return this.#keys.learnKeys(commits);
  }

  /** Seals `key` for each of `writers` (rotation, invitation). */
  sealFor(
    writers: readonly Uint8Array[],
    key: Uint8Array,
  ): Promise<SealedKey[]> {
    return this.#keys.sealFor(writers, key);
  }

  /** Accepts only the `create` record `cid` (an invitation names it); kept across reopen. */
  pin(cid: string): Promise<void> {
    return this.#keys.pin(cid);
  }

  /** Opens a key sealed for this writer (an invitation's). */
  openBox(box: Uint8Array, create: string): Promise<Uint8Array> {
    return this.#keys.openBox(box, create);
  }

  async sealed(
    commit: string,
    parents: readonly string[],
    extras: SealExtras,
  ): Promise<void> {
    if (extras.record) this.#pendingCreate = false;
    if (!this.isMembered && !extras.record) return;
    const facts = {
      cid: commit,
      parents,
      writer: this.#publicKey,
      ...(extras.record ? { record: extras.record } : {}),
    };
    const refusal = this.#index.admit({
      cid: commit,
      parents,
      writer: this.#writer,
      record: extras.record && decodeMembershipRecord(extras.record, commit),
    });
    // beforeSeal checked the same rule on the same parents.
    if (refusal)
      throw new MembershipError(refusal.code, refusal.detail, commit);
    this.#facts.push(facts);
    await this.persistNew();
    // A rotation this device made: it holds the new key as every remaining member does.
    await this.learnKeys([facts]);
  }

  /**
   * Throws MembershipError when this device may not write `record` (or docs, without one)
   * at `parents`.
   */
  #checkWriter(
    parents: readonly string[],
    record: MembershipRecord | undefined,
  ): void {
    if (!this.isMembered) return;
    const role = this.#index.membersAt(parents).roles.get(this.#writer);
    if (role === undefined)
      throw new MembershipError(
        "not-member",
        `this device's writer ${this.#writer} is not a member of the ledger`,
      );
    if (record && role !== "admin")
      throw new MembershipError(
        "not-admin",
        `this device's writer ${this.#writer} is not an admin of the ledger`,
      );
  }

  /**
   * Admits commits from elsewhere, parents before children. Returns the refused ones with
   * their errors: a commit following a refused one is refused too (its parent is missing).
   */
  admit(commits: readonly CommitFacts[]): Map<string, MembershipError> {
    const refused = new Map<string, MembershipError>();
    for (const c of commits) {
      if (!this.isMembered && c.record === undefined) continue;
      let record: MembershipRecord | undefined;
      try {
        record =
          c.record && decodeMembershipRecord(c.record, `commit ${c.cid}`);
      } catch (error) {
        refused.set(
          c.cid,
          new MembershipError(
            "not-admin",
            `commit ${c.cid} carries a malformed membership record (${(error as Error).message})`,
            c.cid,
          ),
        );
        continue;
      }
      const facts: MemberCommit = {
        cid: c.cid,
        parents: c.parents,
        writer: encodeWriter(c.writer),
        record,
      };
      // An open ledger's commits are not indexed: a `create` starts the index, and is the
      // ledger's first commit, so everything after it is indexed.
      if (this.#index.has(c.cid)) continue;
      if (
        record?.op === "create" &&
        this.#keys.pinned !== undefined &&
        c.cid !== this.#keys.pinned
      ) {
        refused.set(
          c.cid,
          new MembershipError(
            "second-creator",
            `commit ${c.cid} creates another ledger than the invitation named (${this.#keys.pinned})`,
            c.cid,
          ),
        );
        continue;
      }
      const refusal = this.#index.admit(facts);
      if (refusal)
        refused.set(
          c.cid,
          new MembershipError(refusal.code, refusal.detail, c.cid),
        );
      else this.#facts.push(c);
    }
    return refused;
  }

  /** True when the commit counts for nothing (a removed writer's, not followed by its removal). */
  isVoid(cid: string): boolean {
    return this.#index.isVoid(cid);
  }

  /** Commits merged earlier that a removal admitted since has made void. */
  takeVoided(): string[] {
    return this.#index.takeVoided();
  }

  /**
   * The members at `heads` as the public API gives them; undefined for an open ledger. A
   * membered ledger not written yet has its creator alone.
   */
  membersAt(heads: readonly string[]): MemberList | undefined {
    if (this.#pendingCreate)
      return { creator: this.#writer, roles: { [this.#writer]: "admin" } };
    if (!this.isMembered) return undefined;
    const members: Members = this.#index.membersAt(heads);
    return {
      creator: members.creator!,
      roles: Object.fromEntries(
        [...members.roles].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
      ),
    };
  }

  /**
   * Rebuilds the index on open: the facts saved at the last close or compaction, then the
   * envelopes of later commits in storage (no decryption), parents first.
   */
  async load(storage: Gateway, heads: readonly CID[]): Promise<void> {
    const ledger = this.#ledger;
    await this.#keys.loadPin();
    const bytes = await this.#local.getMeta(ledger, META);
    // No saved facts: an open ledger, or a membered one whose commits arrived without its
    // meta records (importLedger, commits placed by hand). Its envelopes say which: the
    // index is rebuilt from all of them, so such a store never opens as an open ledger.
    const saved = bytes ? decodeFacts(bytes) : [];
    // An open ledger remembers the heads whose history it has walked: a commit reachable
    // from them is the same bytes (its CID names them), so only commits above are read.
    const checked = bytes ? [] : await this.#openHeads();
    const known = new Set([...saved.map((f) => f.cid), ...checked]);
    let later = await readFacts(storage, ledger, heads, known);
    if (checked.length > 0 && later.some((f) => f.record !== undefined))
      // A record above an open ledger's checked heads: judge it with its whole history.
      later = await readFacts(storage, ledger, heads, new Set());
    const facts = [...saved, ...later];
    if (!facts.some((f) => f.record !== undefined)) {
      const now = heads.map((cid) => cidString(cid)).sort();
      if (now.join() !== [...checked].sort().join())
        await this.#local.putMeta(ledger, OPEN_META, utf8(JSON.stringify(now)));
      return;
    }
    const refused = this.admit(facts);
    if (refused.size > 0)
      // Stored commits were admitted once; a refusal now is damage or a rule change.
      throw [...refused.values()][0]!;
    this.#index.takeVoided();
    this.#saved = saved.length;
    // A rebuilt index is saved at once, so the next open reads it back.
    if (!bytes) await this.save();
  }

  /** The heads an open ledger's last open walked to (meta record `members-open`). */
  async #openHeads(): Promise<string[]> {
    const bytes = await this.#local.getMeta(this.#ledger, OPEN_META);
    if (!bytes) return [];
    try {
      const heads: unknown = JSON.parse(fromUtf8(bytes));
      if (Array.isArray(heads) && heads.every((h) => typeof h === "string"))
        return heads;
    } catch {
      // A damaged marker only costs a full walk.
    }
    return [];
  }

  /** Saves the facts the first time the ledger is membered, so reopen knows to load them. */
  async persistNew(): Promise<void> {
    if (this.isMembered && this.#saved === 0) await this.save();
  }

  /** Keeps the index's facts in storage (at close and before compaction drops commits). */
  async save(): Promise<void> {
    if (this.#facts.length === this.#saved) return;
    await this.#local.putMeta(this.#ledger, META, encodeFacts(this.#facts));
    this.#saved = this.#facts.length;
  }
}
