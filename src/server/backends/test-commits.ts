// Real commit envelopes for backend tests and the conformance suite: a dag-cbor map
// { v: 2, iv, data, parents } named by the sha2-256 CID of its bytes, exactly what
// blocks/envelope.ts encodes (sync/protocol's checkCommit accepts them and reads the same
// parents back). Built here from dag-cbor because the server may not import blocks/envelope;
// `data` is random bytes standing in for ciphertext, which is all a blind server ever sees.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import type { StoredCommit } from "../backend.js";

const DAG_CBOR = 0x71;

/** A commit with the given parents and about `size` bytes of envelope. */
export async function makeTestCommit(
  parents: readonly CID[] = [],
  size = 1024,
): Promise<StoredCommit> {
  const iv = randomBytes(12);
  // Envelope overhead is ~120 bytes (with the writer and signature every commit carries,
  // signed in form only here) plus ~40 per parent; the rest is "ciphertext".
  const data = randomBytes(Math.max(0, size - 120 - 40 * parents.length));
  // A plain Uint8Array, as a backend returns it (dag-cbor may hand out a Buffer in Node).
  const bytes = new Uint8Array(
    dagCbor.encode({
      v: 2,
      iv,
      data,
      parents: [...parents],
      w: new Uint8Array(32),
      s: new Uint8Array(64),
    }),
  );
  const cid = CID.createV1(DAG_CBOR, await sha256.digest(bytes));
  return { cid, bytes, parents: [...parents] };
}

/** `n` commits, each the child of the one before (the first of `parents`). */
export async function makeTestChain(
  n: number,
  parents: readonly CID[] = [],
  size = 1024,
): Promise<StoredCommit[]> {
  const chain: StoredCommit[] = [];
  for (let i = 0; i < n; i++)
    chain.push(
      await makeTestCommit(i === 0 ? parents : [chain[i - 1]!.cid], size),
    );
  return chain;
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  // getRandomValues fills at most 65536 bytes a call.
  for (let at = 0; at < size; at += 65536)
    globalThis.crypto.getRandomValues(
      bytes.subarray(at, Math.min(size, at + 65536)),
    );
  return bytes;
}
