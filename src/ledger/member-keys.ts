// The content keys of a membered ledger (docs/security.md, "Removal and rotation"): which key
// new commits are sealed under, opening the keys rotations and invitations sealed for this
// writer, sealing a key for others, and the `create` record an invitation pinned. Keys are
// sealed bound to the ledger's `create` record.
import { CID } from "multiformats/cid";
import type { LocalStorage } from "../gateways/gateway.js";
import { openKeyBox, sealKeyBox } from "../trust/key-box.js";
import type { Aead } from "../trust/key-box.js";
import type { MembershipIndex } from "../trust/membership.js";
import { decodeMembershipRecord } from "../trust/membership-record.js";
import type {
  MembershipRecord,
  SealedKey,
} from "../trust/membership-record.js";
import { equalBytes } from "../util/bytes.js";
import { MembershipError } from "../util/errors.js";
import type { KeyRing } from "./key-ring.js";
import type { CommitFacts } from "./member-facts.js";

/** The meta record holding the `create` record an invitation named. */
const PIN = "members-pin";

export class MemberKeys {
  readonly #index: MembershipIndex;
  readonly #ledger: string;
  readonly #local: LocalStorage;
  readonly #publicKey: Uint8Array;
  readonly #ring: KeyRing;
  readonly #seed: Uint8Array;
  readonly #aead: Aead;
  /** The `create` record an invitation named: the only one this replica accepts. */
  #pinned: string | undefined;

  constructor(options: {
    /** The ledger's membership index (read only here). */
    index: MembershipIndex;
    ledger: string;
    local: LocalStorage;
    writer: Uint8Array;
    ring: KeyRing;
    /** The writer's Ed25519 seed, to open the keys sealed for it. */
    seed: Uint8Array;
    aead: Aead;
  }) {
    this.#index = options.index;
    this.#ledger = options.ledger;
    this.#local = options.local;
    this.#publicKey = options.writer;
    this.#ring = options.ring;
    this.#seed = options.seed;
    this.#aead = options.aead;
  }

  /** The `create` record an invitation named, if this replica joined by one. */
  get pinned(): string | undefined {
    return this.#pinned;
  }

  /** Reads back the pinned `create` record on open. */
  async loadPin(): Promise<void> {
    const pin = await this.#local.getMeta(this.#ledger, PIN);
    if (pin) this.#pinned = CID.decode(pin).toString();
  }

  /**
   * The content key new commits on `parents` are sealed under: the key of the last key
   * rotation (a record carrying `keys`) among the records at `parents` in the rule's fold
   * order, or the ledger's first key.
   */
  currentKey(parents: readonly string[]): {
    key: Uint8Array;
    id?: Uint8Array;
  } {
    if (!this.#index.isSigned) return { key: this.#ring.first };
    const records = this.#index.recordsAt(parents);
    for (let i = records.length - 1; i >= 0; i--) {
      const r = records[i]!;
      if (!r.record?.keys || this.#index.isVoid(r.cid)) continue;
      const held = this.#ring.ofRecord(r.cid);
      if (!held)
        throw new MembershipError(
          "not-member",
          `this device was not given the ledger's current key (rotated by ${r.cid}): it was removed`,
        );
      return held;
    }
    return { key: this.#ring.first };
  }

  /**
   * Opens the content keys sealed for this writer in the records of `commits` (key
   * rotations) and keeps them: run before the commits after them are decrypted.
   */
  async learnKeys(commits: readonly CommitFacts[]): Promise<void> {
    const me = this.#publicKey;
    // The `create` record may come in the same batch (a new replica's first sync).
    let create: string | undefined;
    for (const c of commits)
      if (c.record && c.parents.length === 0) create = c.cid;
    for (const c of commits) {
      if (!c.record) continue;
      let record: MembershipRecord;
      try {
        record = decodeMembershipRecord(c.record, `commit ${c.cid}`);
      } catch {
        continue; // refused when admitted
      }
      const box = record.keys?.find((k) => equalBytes(k.to, me));
      if (!box || this.#ring.ofRecord(c.cid)) continue;
      const context =
        this.#context() ?? (create ? CID.parse(create).bytes : undefined);
      if (!context) continue;
      const key = await openKeyBox(this.#aead, this.#seed, box.box, context);
      await this.#ring.add(key, c.cid);
    }
  }

  /** What a sealed key is bound to: the ledger's `create` record. */
  #context(): Uint8Array | undefined {
    const create = this.#pinned ?? this.#index.creatorRecord;
    return create === undefined ? undefined : CID.parse(create).bytes;
  }

  /** Seals `key` for each of `writers` (rotation, invitation). */
  async sealFor(
    writers: readonly Uint8Array[],
    key: Uint8Array,
  ): Promise<SealedKey[]> {
    const context = this.#context();
    if (!context)
      throw new MembershipError(
        "not-member",
        `ledger ${this.#ledger} has no members (it is open)`,
      );
    const out: SealedKey[] = [];
    for (const to of writers)
      out.push({ to, box: await sealKeyBox(this.#aead, to, key, context) });
    return out;
  }

  /** Accepts only the `create` record `cid` (an invitation names it); kept across reopen. */
  async pin(cid: string): Promise<void> {
    this.#pinned = cid;
    await this.#local.putMeta(this.#ledger, PIN, CID.parse(cid).bytes);
  }

  /** Opens a key sealed for this writer (an invitation's). */
  openBox(box: Uint8Array, create: string): Promise<Uint8Array> {
    return openKeyBox(this.#aead, this.#seed, box, CID.parse(create).bytes);
  }
}
