// The checks of `kiln verify`, over commits from any source (a ledger's storage, a CAR
// export): each commit's bytes against its CID, its envelope, that its parents and the heads
// are among the commits given, and its writer's signature — all without the key. With the
// key, each commit is also decrypted and parsed, and its height checked against its
// parents'. Every failure names the commit it concerns; nothing stops at the first.
import type { CID } from "multiformats/cid";
import { cidFor, cidString, verifyCid } from "../blocks/cid.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import { decodeEnvelope, unsignedEnvelope } from "../blocks/envelope.js";
import type { SigningProvider } from "../trust/signing.js";
import { openBytes } from "../blocks/commit.js";
import { MembershipIndex } from "../trust/membership.js";
import { decodeMembershipRecord } from "../trust/membership-record.js";
import { encodeWriter } from "../trust/signing.js";
import { KilnError } from "../util/errors.js";
import { openCommit } from "./commit-reader.js";

/** What a verification found: counts of what it checked, and every failure. */
export interface VerifyReport {
  commits: number;
  signed: number;
  heads: number;
  /** Commits decrypted and parsed with the key (0 when no key was given). */
  decrypted: number;
  /**
   * Commits sealed under a key a removal rotated to (envelope `k`): the ledger key alone
   * does not open them, so with a key they are counted here rather than decrypted.
   */
  rotated: number;
  /**
   * Whether the membership rule (src/trust/membership.ts) was applied to every commit:
   * "checked"; "open" for a ledger with no `create` record (every writer may write);
   * "unchecked" when history was let go (the records below it are not all here).
   */
  membership: "checked" | "open" | "unchecked";
  /**
   * Parents no commit given holds, where a snapshot or checkpoint stands for the history
   * compaction let go: not failures, and not checked further (see docs/security.md).
   */
  letGo: number;
  /** One entry per problem, naming the commit; empty when everything verifies. */
  failures: { cid: string; problem: string }[];
}

/** Signatures checked at a time (in the thread pool): as many as keep the cores busy. */
const VERIFY_WINDOW = 16;

interface SignatureCheck {
  cid: string;
  w: Uint8Array;
  message: Uint8Array;
  s: Uint8Array;
}

export class CommitVerifier {
  readonly #crypto: CryptoProvider;
  readonly #signing: SigningProvider;
  readonly #key: Uint8Array | undefined;
  readonly #parents = new Map<string, string[]>();
  /** Heights of the commits decrypted, to check each against its parents'. */
  readonly #heights = new Map<string, number>();
  /** Signatures not checked yet: checked a window at a time, so memory stays bounded. */
  #signatures: SignatureCheck[] = [];
  #signed = 0;
  readonly failures: VerifyReport["failures"] = [];
  /** What the membership rule reads of each signed commit (record undecoded). */
  readonly #facts: {
    cid: string;
    parents: string[];
    writer: string;
    record: Uint8Array | undefined;
  }[] = [];
  /** Snapshots and the heads they cover. */
  readonly #covered: [string, string[]][] = [];
  #commits = 0;
  #rotated = 0;

  constructor(options: {
    crypto: CryptoProvider;
    signing: SigningProvider;
    /** The ledger key: each commit is then decrypted and parsed too. */
    key?: Uint8Array | undefined;
  }) {
    this.#crypto = options.crypto;
    this.#signing = options.signing;
    this.#key = options.key;
  }

  fail(cid: string, problem: string): void {
    this.failures.push({ cid, problem });
  }

  /** Checks one commit (`bytes` undefined: listed by its source but not readable). */
  async add(cid: CID, bytes: Uint8Array | undefined): Promise<void> {
    this.#commits++;
    const subject = cidString(cid);
    if (!bytes) return this.fail(subject, "listed but not readable");
    let envelope;
    try {
      verifyCid(this.#crypto, cid, bytes);
      envelope = decodeEnvelope(bytes, `commit ${subject}`);
    } catch (error) {
      if (!(error instanceof KilnError)) throw error;
      return this.fail(subject, error.message);
    }
    this.#parents.set(subject, envelope.parents.map(cidString));
    const { w, s } = envelope;
    if (!w || !s) this.fail(subject, "it is unsigned (every commit is signed)");
    else {
      this.#facts.push({
        cid: subject,
        parents: envelope.parents.map(cidString),
        writer: encodeWriter(w),
        record: envelope.m,
      });
      this.#signed++;
      this.#signatures.push({
        cid: subject,
        w,
        s,
        message: cidFor(this.#crypto, unsignedEnvelope(envelope)).bytes,
      });
      if (this.#signatures.length >= VERIFY_WINDOW)
        await this.#checkSignatures();
    }
    if (!this.#key) return;
    if (envelope.k) {
      // Sealed under a key a removal rotated to: the ledger key alone does not open it.
      this.#rotated++;
      return;
    }
    try {
      const opened = await openCommit(this.#crypto, this.#key, cid, bytes);
      this.#heights.set(subject, opened.event.height);
    } catch (error) {
      if (!(error instanceof KilnError)) throw error;
      this.fail(subject, error.message);
    }
  }

  /**
   * Checks a snapshot block (sealed like a commit, its parents the heads it covers): its
   * bytes, envelope, signature, that what it covers is held, and with the key that it
   * decrypts. It is not a commit: no other commit names it.
   */
  async addSnapshot(cid: CID, bytes: Uint8Array): Promise<void> {
    const subject = cidString(cid);
    let envelope;
    try {
      verifyCid(this.#crypto, cid, bytes);
      envelope = decodeEnvelope(bytes, `snapshot ${subject}`);
      if (this.#key) await openBytes(this.#crypto, this.#key, cid, bytes);
    } catch (error) {
      if (!(error instanceof KilnError)) throw error;
      return this.fail(subject, `snapshot: ${error.message}`);
    }
    this.#covered.push([subject, envelope.parents.map(cidString)]);
    const { w, s } = envelope;
    if (w && s)
      this.#signatures.push({
        cid: subject,
        w,
        s,
        message: cidFor(this.#crypto, unsignedEnvelope(envelope)).bytes,
      });
  }

  /**
   * Finishes the checks that need every commit (parents, heads, signatures, heights).
   * `historyLetGo`: a snapshot or checkpoint stands for history that may have been let go,
   * so a parent not held is counted in `letGo` rather than failed.
   */
  async finish(
    heads: readonly CID[],
    historyLetGo = false,
  ): Promise<VerifyReport> {
    const held = this.#parents;
    for (const head of heads)
      if (!held.has(cidString(head)))
        this.fail(cidString(head), "head is not held");
    const letGo = new Set<string>();
    for (const [cid, parents] of held)
      for (const parent of parents)
        if (held.has(parent)) continue;
        else if (historyLetGo) letGo.add(parent);
        else this.fail(cid, `parent ${parent} is not held`);
    for (const [cid, parents] of this.#covered)
      for (const p of parents)
        if (!held.has(p))
          this.fail(cid, `snapshot: covers ${p}, which is not held`);
    for (const [cid, height] of this.#heights) {
      const parents = held.get(cid)!;
      const known = parents.map((p) => this.#heights.get(p));
      if (known.some((h) => h === undefined)) continue; // reported above
      const expected = Math.max(0, ...(known as number[])) + 1;
      if (height !== expected)
        this.fail(
          cid,
          `its height is ${height}, its parents make it ${expected}`,
        );
    }
    await this.#checkSignatures();
    const membership = this.#checkMembership(letGo.size > 0);
    return {
      membership,
      commits: this.#commits,
      signed: this.#signed,
      heads: heads.length,
      decrypted: this.#heights.size,
      rotated: this.#rotated,
      letGo: letGo.size,
      failures: this.failures,
    };
  }

  /**
   * Applies the membership rule to every signed commit, parents first (by depth, then CID):
   * each refusal names its commit. Needs the whole history: records below a compaction are
   * not here.
   */
  #checkMembership(historyLetGo: boolean): VerifyReport["membership"] {
    const facts = this.#facts;
    if (!facts.some((f) => f.record)) return "open";
    if (historyLetGo) return "unchecked";
    const depth = new Map<string, number>();
    const byCid = new Map(facts.map((f) => [f.cid, f]));
    const depthOf = (cid: string): number => {
      const stack = [cid];
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        if (depth.has(top)) {
          stack.pop();
          continue;
        }
        const parents = (byCid.get(top)?.parents ?? []).filter((p) =>
          byCid.has(p),
        );
        const pending = parents.filter((p) => !depth.has(p));
        if (pending.length > 0) stack.push(...pending);
        else {
          depth.set(top, 1 + Math.max(0, ...parents.map((p) => depth.get(p)!)));
          stack.pop();
        }
      }
      return depth.get(cid)!;
    };
    const ordered = [...facts].sort(
      (a, b) =>
        depthOf(a.cid) - depthOf(b.cid) ||
        (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0),
    );
    const index = new MembershipIndex();
    for (const f of ordered) {
      // A parent that failed its own checks is reported already.
      if (f.parents.some((p) => !byCid.has(p))) continue;
      let record;
      try {
        record =
          f.record && decodeMembershipRecord(f.record, `commit ${f.cid}`);
      } catch (error) {
        if (!(error instanceof KilnError)) throw error;
        this.fail(f.cid, `membership: ${error.message}`);
        continue;
      }
      const refusal = index.admit({ ...f, record });
      if (refusal) this.fail(f.cid, `membership: ${refusal.detail}`);
    }
    return "checked";
  }

  async #checkSignatures(): Promise<void> {
    const window = this.#signatures;
    this.#signatures = [];
    const results = await Promise.all(
      window.map((c) => this.#signing.verify(c.w, c.message, c.s)),
    );
    results.forEach((ok, i) => {
      if (!ok)
        this.fail(window[i]!.cid, "its writer's signature does not verify");
    });
  }
}
