// checkCommit is all a blind server knows of a commit: its bytes hash to its CID, and they
// are an envelope whose parents it reports. Commits here are built the way clients seal
// them (sealBytes) and, for odd shapes, straight from encodeEnvelope.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha512 } from "multiformats/hashes/sha2";
import { describe, expect, it } from "vitest";
import { cidFor } from "../../blocks/cid.js";
import { sealBytes } from "../../blocks/commit.js";
import { encodeEnvelope } from "../../blocks/envelope.js";
import { nodeCrypto } from "../../blocks/node-crypto.js";
import { nodeSigning } from "../../trust/node-signing.js";
import { utf8 } from "../../util/bytes.js";
import { checkCommit } from "./commit-check.js";
import type { ErrorReason } from "./error.js";
import { ProtocolError } from "./error.js";

const key = new Uint8Array(32).fill(7);
const signer = await nodeSigning.importSigner(new Uint8Array(32).fill(9));
const RAW = 0x55;

function reasonOf(f: () => unknown): ErrorReason {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return (error as ProtocolError).reason;
  }
  throw new Error("expected a ProtocolError, nothing was thrown");
}

/** sha2-512 of bytes; synchronous in Node. */
function sha512Digest(bytes: Uint8Array) {
  const digest = sha512.digest(bytes);
  if (digest instanceof Promise) throw new Error("sha512 must be synchronous");
  return digest;
}

const strings = (cids: readonly CID[]) => cids.map((c) => c.toString());

describe("checkCommit", () => {
  it("returns the parents of a good commit", async () => {
    const root = await sealBytes(nodeCrypto, key, [], utf8("first"), signer);
    const side = await sealBytes(nodeCrypto, key, [], utf8("second"), signer);
    const merge = await sealBytes(
      nodeCrypto,
      key,
      [side.cid, root.cid],
      utf8("merge"),
      signer,
    );
    expect(checkCommit(root.cid, root.bytes)).toEqual([]);
    expect(strings(checkCommit(merge.cid, merge.bytes)).sort()).toEqual(
      strings([root.cid, side.cid]).sort(),
    );
  });

  it("reports parents it cannot know, such as a CID of another kind", () => {
    // The server does not judge parents here: one it does not hold is missing-commit later.
    const odd = CID.createV1(RAW, sha512Digest(utf8("x")));
    const bytes = encodeEnvelope({
      v: 2,
      parents: [odd],
      iv: new Uint8Array(12),
      data: new Uint8Array(16),
      w: new Uint8Array(32),
      s: new Uint8Array(64),
    });
    expect(strings(checkCommit(cidFor(nodeCrypto, bytes), bytes))).toEqual(
      strings([odd]),
    );
  });

  it("refuses any flipped byte: cid-mismatch", async () => {
    const parent = await sealBytes(nodeCrypto, key, [], utf8("p"), signer);
    const commit = await sealBytes(
      nodeCrypto,
      key,
      [parent.cid],
      utf8("c"),
      signer,
    );
    for (let i = 0; i < commit.bytes.length; i++) {
      const bad = commit.bytes.slice();
      bad[i]! ^= 1;
      expect(
        reasonOf(() => checkCommit(commit.cid, bad)),
        `byte ${i}`,
      ).toBe("cid-mismatch");
    }
    expect(
      reasonOf(() => checkCommit(commit.cid, commit.bytes.subarray(1))),
    ).toBe("cid-mismatch");
    expect(reasonOf(() => checkCommit(parent.cid, commit.bytes))).toBe(
      "cid-mismatch",
    );
  });

  it("refuses a CID that is not dag-cbor sha2-256: cid-mismatch", async () => {
    const commit = await sealBytes(nodeCrypto, key, [], utf8("c"), signer);
    const raw = CID.createV1(RAW, commit.cid.multihash);
    expect(reasonOf(() => checkCommit(raw, commit.bytes))).toBe("cid-mismatch");
    const sha512Cid = CID.createV1(0x71, sha512Digest(commit.bytes));
    expect(reasonOf(() => checkCommit(sha512Cid, commit.bytes))).toBe(
      "cid-mismatch",
    );
  });

  it("refuses bytes that match their CID but are no envelope: bad-commit", () => {
    const envelope = (fields: Record<string, unknown>) =>
      dagCbor.encode({
        v: 2,
        parents: [],
        iv: new Uint8Array(12),
        data: new Uint8Array(16),
        ...fields,
      });
    for (const [what, bytes] of [
      ["not cbor", utf8("plain text")],
      ["empty", new Uint8Array()],
      ["a cbor list", dagCbor.encode([1, 2, 3])],
      ["a cbor number", dagCbor.encode(1)],
      ["a map of something else", dagCbor.encode({ hello: "world" })],
      ["envelope version 1 (format v1)", envelope({ v: 1 })],
      ["envelope version 3", envelope({ v: 3 })],
      ["a writer key of 31 bytes", envelope({ w: new Uint8Array(31) })],
      ["a signature without a writer", envelope({ s: new Uint8Array(64) })],
      ["parents not a list", envelope({ parents: "none" })],
      ["parents not cids", envelope({ parents: [utf8("x")] })],
      ["iv of 11 bytes", envelope({ iv: new Uint8Array(11) })],
      ["iv missing", envelope({ iv: null })],
      ["data as text", envelope({ data: "ciphertext" })],
    ] as const)
      expect(
        reasonOf(() => checkCommit(cidFor(nodeCrypto, bytes), bytes)),
        what,
      ).toBe("bad-commit");
  });
});
