// The membership rule as a blind store applies it (the SyncServer): for each ledger it keeps
// the rule's index of the commits it holds, read from the envelopes (no key), and checks a
// push before anything of it is stored — in a membered ledger every pushed commit must carry
// a signature that verifies and be by a writer who is a member (an admin, for a membership
// record) at its parents. An open ledger's pushes are not checked here (every key holder
// writes; replicas still check each signature).
//
// The index is built on the ledger's first push in this process by reading every commit it
// holds (O(history) reads, once), then kept up to date: a push whose parents it has not
// seen (written through another process) reads what lies between first. A refused push
// leaves the index to be rebuilt, so nothing of a refused push is ever counted.
import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";
import { cidString } from "../blocks/cid.js";
import { decodeCommitEnvelope, unsignedEnvelope } from "../blocks/envelope.js";
import { MembershipError } from "../util/errors.js";
import { MembershipIndex } from "./membership.js";
import type { MemberCommit } from "./membership.js";
import { decodeMembershipRecord } from "./membership-record.js";
import { encodeWriter } from "./signing.js";
import type { SigningProvider } from "./signing.js";

/** What the gate reads of the store holding a ledger. */
export interface GateSource {
  getHeads(): Promise<CID[]>;
  getMeta(
    cids: readonly CID[],
  ): Promise<
    (
      { readonly parents: readonly CID[]; readonly height: number } | undefined
    )[]
  >;
  getCommits(cids: readonly CID[]): Promise<(Uint8Array | undefined)[]>;
}

/** A pushed commit, its bytes checked against its CID already. */
export interface GateCommit {
  readonly cid: CID;
  readonly bytes: Uint8Array;
  readonly parents: readonly CID[];
}

/** True when a pushed commit carries a `create` record (malformed ones are checked later). */
function createsMembers(c: GateCommit): boolean {
  try {
    const { m } = decodeCommitEnvelope(c.bytes, cidString(c.cid));
    return m !== undefined && decodeMembershipRecord(m, "m").op === "create";
  } catch {
    return false;
  }
}

const DAG_CBOR = 0x71;
const SHA2_256 = 0x12;

interface Held {
  readonly cid: string;
  readonly height: number;
  readonly commit: MemberCommit;
}

export class PushGate {
  #index = new MembershipIndex();
  #loaded = false;
  #open = false;
  readonly #signing: SigningProvider;
  readonly #sha256: (bytes: Uint8Array) => Uint8Array;

  constructor(options: {
    signing: SigningProvider;
    sha256: (bytes: Uint8Array) => Uint8Array;
  }) {
    this.#signing = options.signing;
    this.#sha256 = options.sha256;
  }

  /**
   * Throws MembershipError for the first commit of `batch` (parents first) the rule refuses,
   * or SignatureError-like MembershipError ("unsigned") for one whose signature fails, in
   * a membered ledger. On success the batch is counted in the index: the caller stores it,
   * or calls reset() when storing fails.
   */
  async check(source: GateSource, batch: readonly GateCommit[]): Promise<void> {
    const inBatch = new Set(batch.map((c) => cidString(c.cid)));
    if (!this.#loaded) {
      await this.#read(source, await source.getHeads());
      this.#loaded = true;
      // An open ledger: nothing to keep, nothing to check — until a `create` comes.
      this.#open = !this.#index.isSigned;
      if (this.#open) this.#index = new MembershipIndex();
    }
    if (this.#open) {
      if (!batch.some((c) => createsMembers(c))) return;
      this.#open = false;
    }
    const unseen = batch
      .flatMap((c) => c.parents)
      .filter(
        (p) => !inBatch.has(cidString(p)) && !this.#index.has(cidString(p)),
      );
    if (unseen.length > 0) await this.#read(source, unseen);
    const facts = batch.map((c) => this.#facts(c));
    const isMembered = () =>
      this.#index.isSigned ||
      facts.some((f) => f.commit.record?.op === "create");
    if (!isMembered()) return;
    const verdicts = await Promise.all(
      facts.map((f) => this.#signing.verify(f.writer, f.message, f.signature)),
    );
    for (const [i, f] of facts.entries()) {
      const cid = f.commit.cid;
      if (!verdicts[i]) {
        this.reset();
        throw new MembershipError(
          "unsigned",
          `commit ${cid}: its writer's signature does not verify`,
          cid,
        );
      }
      const refusal = this.#index.admit(f.commit);
      if (refusal) {
        this.reset();
        throw new MembershipError(refusal.code, refusal.detail, cid);
      }
    }
  }

  /** Forgets the index: the next push reads it again from the store. */
  reset(): void {
    this.#index = new MembershipIndex();
    this.#loaded = false;
    this.#open = false;
  }

  #facts(c: GateCommit) {
    const cid = cidString(c.cid);
    const envelope = decodeCommitEnvelope(c.bytes, cid);
    const record =
      envelope.m && decodeMembershipRecord(envelope.m, `commit ${cid}`);
    return {
      writer: envelope.w,
      signature: envelope.s,
      message: CID.createV1(
        DAG_CBOR,
        createDigest(SHA2_256, this.#sha256(unsignedEnvelope(envelope))),
      ).bytes,
      commit: {
        cid,
        parents: c.parents.map((p) => cidString(p)),
        writer: encodeWriter(envelope.w),
        ...(record ? { record } : {}),
      } satisfies MemberCommit,
    };
  }

  /**
   * Reads the commits below `from` that the index has not seen (their meta, and their
   * envelopes for the writer and record) and counts them, parents first, as admitted: the
   * store checked each on arrival. A commit whose bytes were dropped keeps its place.
   */
  async #read(source: GateSource, from: readonly CID[]): Promise<void> {
    const held: Held[] = [];
    const seen = new Set<string>();
    let level = from.filter((c) => {
      const k = cidString(c);
      if (seen.has(k) || this.#index.has(k)) return false;
      seen.add(k);
      return true;
    });
    while (level.length > 0) {
      const [metas, bytes] = await Promise.all([
        source.getMeta(level),
        source.getCommits(level),
      ]);
      const next: CID[] = [];
      level.forEach((cid, i) => {
        const meta = metas[i];
        if (!meta) return;
        const name = cidString(cid);
        const b = bytes[i];
        let writer = "";
        let record;
        if (b) {
          // Held already, so checked on arrival; one the rule cannot read counts as an
          // unknown writer's (stored before membership, or by hand).
          try {
            const envelope = decodeCommitEnvelope(b, name);
            writer = encodeWriter(envelope.w);
            record = envelope.m && decodeMembershipRecord(envelope.m, name);
          } catch {
            writer = "";
          }
        }
        held.push({
          cid: name,
          height: meta.height,
          commit: {
            cid: name,
            parents: meta.parents.map((p) => cidString(p)),
            writer,
            ...(record ? { record } : {}),
          },
        });
        for (const p of meta.parents) {
          const k = cidString(p);
          if (!seen.has(k) && !this.#index.has(k)) {
            seen.add(k);
            next.push(p);
          }
        }
      });
      level = next;
    }
    held.sort((a, b) =>
      a.height !== b.height ? a.height - b.height : a.cid < b.cid ? -1 : 1,
    );
    for (const h of held) this.#index.admit(h.commit, { trusted: true });
  }
}
