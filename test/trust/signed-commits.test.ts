// Every commit names its writer and carries its signature; a replica refuses a commit whose
// signature does not verify, stores nothing of its batch and says so on `error` and status.
import { randomBytes } from "node:crypto";
import * as dagCbor from "@ipld/dag-cbor";
import type { CID } from "multiformats/cid";
import { describe, expect, it } from "vitest";
import { encodeDocValue } from "../../src/blocks/cbor-writer.js";
import { cidFor } from "../../src/blocks/cid.js";
import { sealBytes } from "../../src/blocks/commit.js";
import {
  decodeCommitEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  unsignedEnvelope,
} from "../../src/blocks/envelope.js";
import { openCommit } from "../../src/ledger/commit-reader.js";
import { checkCommit } from "../../src/sync/protocol/commit-check.js";
import { decodeLedgerKey } from "../../src/blocks/ledger-key.js";
import { nodeCrypto } from "../../src/blocks/node-crypto.js";
import { encodeEvent } from "../../src/crdt/event.js";
import { memoryGateway } from "../../src/gateways/memory-gateway.js";
import {
  decodeWriter,
  nodeSigning,
  openLedger,
  whoami,
} from "../../src/index.js";
import type { Connection, Ledger } from "../../src/index.js";

let n = 0;
const room = () => `memory://signed-room-${process.pid}-${n++}`;

async function commitsOf(url: string, ledger: string) {
  const g = await memoryGateway.open(memoryGateway.parse(new URL(url)));
  const heads = await g.getHeads(ledger);
  const bytes = await Promise.all(heads.map((h) => g.getCommit(ledger, h)));
  return { g, heads, bytes: bytes.map((b) => b!) };
}

function firstError(c: Connection): Promise<Error> {
  return new Promise((resolve) => c.on("error", resolve));
}

describe("signed commits", () => {
  it("name the device's writer and carry a signature over the unsigned envelope's CID", async () => {
    const storage = `memory://signed-device-${process.pid}`;
    const a = await openLedger("orders", { storage });
    const url = room();
    const c = a.connect(url);
    await a.put({ _id: "o1", amount: 1 });
    await c.synced();
    const { heads, bytes, g } = await commitsOf(url, "orders");
    const envelope = decodeEnvelope(bytes[0]!, "head");
    expect(envelope.w).toEqual(decodeWriter(await whoami({ storage })));
    const message = cidFor(nodeCrypto, unsignedEnvelope(envelope)).bytes;
    expect(await nodeSigning.verify(envelope.w!, message, envelope.s!)).toBe(
      true,
    );
    expect(heads).toHaveLength(1);
    await g.close();
    await a.close();
  });

  it("are refused unsigned: the server's check and every replica's", async () => {
    const a = await openLedger("orders", { storage: "memory://" });
    const url = room();
    const c = a.connect(url);
    await a.put({ _id: "o1" });
    await c.synced();
    const { bytes, heads, g } = await commitsOf(url, "orders");
    const rest = decodeEnvelope(bytes[0]!, "head");
    delete rest.s;
    delete rest.w;
    const unsigned = encodeEnvelope(rest);
    const cid = cidFor(nodeCrypto, unsigned);
    const refusal = { code: "signature", problem: "unsigned" };
    expect(() => decodeCommitEnvelope(unsigned, cid.toString())).toThrow(
      expect.objectContaining(refusal) as Error,
    );
    await expect(
      openCommit(nodeCrypto, decodeLedgerKey(a.key), cid, unsigned),
    ).rejects.toMatchObject(refusal);
    expect(() => checkCommit(cid, unsigned)).toThrow(
      expect.objectContaining({ reason: "bad-commit" }) as Error,
    );
    expect(heads).toHaveLength(1);
    await g.close();
    await a.close();
  });

  interface Setting {
    a: Ledger;
    storage: string;
    head: CID;
    headBytes: Uint8Array;
  }
  const forgeries: [
    string,
    (s: Setting) => Promise<{ cid: CID; bytes: Uint8Array }>,
  ][] = [
    [
      "a flipped signature byte",
      ({ headBytes }) => {
        const envelope = decodeEnvelope(headBytes, "head");
        const s = envelope.s!.slice();
        s[7]! ^= 1;
        const forged = dagCbor.encode({ ...envelope, s });
        return Promise.resolve({
          cid: cidFor(nodeCrypto, forged),
          bytes: forged,
        });
      },
    ],
    [
      "a key holder claiming another writer",
      async ({ a, storage, head }) => {
        // The forger has the content key and its own signing key, and names a's writer.
        const victim = decodeWriter(await whoami({ storage }));
        const own = await nodeSigning.importSigner(randomBytes(32));
        const doc = encodeDocValue({ v: "forged" });
        return sealBytes(
          nodeCrypto,
          decodeLedgerKey(a.key),
          [head],
          encodeEvent({ h: 2, ops: [["o2", doc]] }),
          { publicKey: victim, sign: (m) => own.sign(m) },
        );
      },
    ],
  ];

  it.each(forgeries)(
    "are refused when forged (%s): typed error on the connection and its status, the rest merges",
    async (_name, forge) => {
      const storage = `memory://signed-forger-${process.pid}-${n++}`;
      const a = await openLedger("orders", { storage });
      const url = room();
      const ca = a.connect(url);
      await a.put({ _id: "o1", v: 1 });
      await ca.synced();
      await ca.close();
      const { g, heads, bytes } = await commitsOf(url, "orders");
      const forged = await forge({
        a,
        storage,
        head: heads[0]!,
        headBytes: bytes[0]!,
      });
      await g.putCommit("orders", forged.cid, forged.bytes);
      // Beside the honest head: the forged commit alone is refused.
      await g.putHeads("orders", { add: [forged.cid], remove: [] });
      const b = await openLedger("orders", {
        storage: "memory://",
        key: a.key,
      });
      const cb = b.connect(url, { backoff: { baseMs: 5, maxMs: 20 } });
      const ledgerErrors: unknown[] = [];
      b.on("error", (e) => ledgerErrors.push(e));
      const error = await firstError(cb);
      expect(error).toMatchObject({ code: "signature" });
      expect(error.message).toContain(forged.cid.toString());
      expect(ledgerErrors).toContain(error);
      expect(cb.status).toMatchObject({ kind: "live", refused: error });
      // The forged commit alone is refused: what it followed merged.
      expect(await b.get("o1")).toMatchObject({ v: 1 });
      expect(b.clock).toEqual(heads.map(String));
      await cb.close();
      await g.close();
      await a.close();
      await b.close();
    },
  );
});
