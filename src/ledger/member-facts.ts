// The membership index's facts (docs/format.md, "Membership index"): what the rule reads of
// each commit, kept in the meta record `members` as dag-cbor, and read back from stored
// commit envelopes (no decryption) for commits the saved record does not cover.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { cidString } from "../blocks/cid.js";
import { decodeCommitEnvelope } from "../blocks/envelope.js";
import type { Gateway } from "../gateways/gateway.js";
import { CorruptError } from "../util/errors.js";

/** A commit as the membership rule reads it: its place in the DAG, writer and record bytes. */
export interface CommitFacts {
  readonly cid: string;
  readonly parents: readonly string[];
  readonly writer: Uint8Array;
  readonly record?: Uint8Array | undefined;
}

export function encodeFacts(facts: readonly CommitFacts[]): Uint8Array {
  return dagCbor.encode(
    facts.map((f) => [
      CID.parse(f.cid),
      f.parents.map((p) => CID.parse(p)),
      f.writer,
      f.record ?? null,
    ]),
  );
}

export function decodeFacts(bytes: Uint8Array | undefined): CommitFacts[] {
  if (!bytes) return [];
  const value: unknown = dagCbor.decode(bytes);
  const bad = () =>
    new CorruptError("membership index", "saved facts are malformed");
  if (!Array.isArray(value)) throw bad();
  return value.map((row: unknown) => {
    if (!Array.isArray(row) || row.length !== 4) throw bad();
    const [cid, parents, writer, record] = row as unknown[];
    const c = CID.asCID(cid);
    if (
      !c ||
      !Array.isArray(parents) ||
      !(writer instanceof Uint8Array) ||
      !(record === null || record instanceof Uint8Array)
    )
      throw bad();
    return {
      cid: c.toString(),
      parents: parents.map((p) => {
        const pc = CID.asCID(p);
        if (!pc) throw bad();
        return pc.toString();
      }),
      writer,
      ...(record ? { record } : {}),
    };
  });
}

/** Every commit below `heads` as the rule reads it, parents before children. */
export async function readFacts(
  storage: Gateway,
  ledger: string,
  heads: readonly CID[],
  known: ReadonlySet<string>,
): Promise<CommitFacts[]> {
  const out: CommitFacts[] = [];
  const seen = new Set<string>(known);
  // Iterative post-order: a commit is emitted after all its parents.
  const stack: { cid: CID; facts?: CommitFacts; parents?: CID[] }[] = heads.map(
    (cid) => ({ cid }),
  );
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const name = cidString(top.cid);
    if (!top.facts) {
      if (seen.has(name)) {
        stack.pop();
        continue;
      }
      seen.add(name);
      const bytes = await storage.getCommit(ledger, top.cid);
      if (!bytes) {
        stack.pop();
        continue;
      }
      const envelope = decodeCommitEnvelope(bytes, name);
      top.parents = envelope.parents;
      top.facts = {
        cid: name,
        parents: envelope.parents.map((p) => cidString(p)),
        writer: envelope.w,
        ...(envelope.m ? { record: envelope.m } : {}),
      };
      for (const p of envelope.parents)
        if (!seen.has(cidString(p))) stack.push({ cid: p });
      continue;
    }
    stack.pop();
    out.push(top.facts);
  }
  return out;
}
