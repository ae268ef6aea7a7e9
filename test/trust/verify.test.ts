// `kiln verify <ledger>`: checks stored commits without the key and names every commit that
// fails — damaged bytes, a forged signature, a missing parent.
import * as dagCbor from "@ipld/dag-cbor";
import { describe, expect, it } from "vitest";
import { cidFor } from "../../src/blocks/cid.js";
import { decodeEnvelope } from "../../src/blocks/envelope.js";
import { nodeCrypto } from "../../src/blocks/node-crypto.js";
import { runCli } from "../fixtures/run-cli.js";
import { memoryGateway } from "../../src/gateways/memory-gateway.js";
import { openLedger } from "../../src/index.js";

let n = 0;

const run = (args: string[]) => runCli(args);

/** A room holding a signed ledger "orders" of 5 commits, and a gateway on it. */
async function signedRoom() {
  const storage = `memory://verify-${process.pid}-${n++}`;
  const ledger = await openLedger("orders", { storage });
  for (let i = 0; i < 5; i++) await ledger.put({ _id: `o${i}`, amount: i });
  const g = await memoryGateway.open(memoryGateway.parse(new URL(storage)));
  const cids = await g.local!.listCommits("orders");
  return { storage, ledger, g, cids };
}

describe("kiln verify", () => {
  it("passes a sound signed ledger, without the key", async () => {
    const { storage, ledger, g } = await signedRoom();
    const result = await run(["verify", "orders", "--storage", storage]);
    expect(result.code).toBe(0);
    expect(result.out[0]).toBe(
      "verified orders: 5 commits (5 signed, without the key), 1 heads",
    );
    await g.close();
    await ledger.close();
  });

  it("names a commit whose bytes were damaged, at any byte", async () => {
    const { ledger, g, cids } = await signedRoom();
    const cid = cids[2]!;
    const original = (await g.getCommit("orders", cid))!;
    await ledger.close();
    // Every position of one commit, each in a store of its own (the damaged bytes kept
    // under the commit's CID, as a bad disk would).
    for (let at = 0; at < original.length; at += 7) {
      const room = `memory://verify-flip-${process.pid}-${n++}`;
      const copy = await memoryGateway.open(memoryGateway.parse(new URL(room)));
      for (const c of cids) {
        const bytes = (await g.getCommit("orders", c))!.slice();
        if (c.equals(cid)) bytes[at]! ^= 0x01;
        await copy.putCommit("orders", c, bytes);
      }
      const result = await run(["verify", "orders", "--storage", room]);
      expect(result.code, `byte ${at}`).toBe(1);
      expect(result.err[0], `byte ${at}`).toContain(`commit ${cid.toString()}`);
      await copy.close();
    }
    await g.close();
  });

  it("names a commit whose signature was altered, and one whose parent is missing", async () => {
    const { storage, ledger, g } = await signedRoom();
    const heads = await g.getHeads("orders");
    const envelope = decodeEnvelope(
      (await g.getCommit("orders", heads[0]!))!,
      "h",
    );
    const s = envelope.s!.slice();
    s[63]! ^= 0x80;
    const forged = dagCbor.encode({ ...envelope, s });
    const forgedCid = cidFor(nodeCrypto, forged);
    await g.putCommit("orders", forgedCid, forged);
    // A commit on a parent the store does not hold.
    const lost = cidFor(nodeCrypto, new Uint8Array([1, 2, 3]));
    const orphan = dagCbor.encode({ ...envelope, parents: [lost] });
    const orphanCid = cidFor(nodeCrypto, orphan);
    await g.putCommit("orders", orphanCid, orphan);
    const result = await run(["verify", "orders", "--storage", storage]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      `commit ${forgedCid.toString()}: its writer's signature does not verify`,
    );
    expect(result.err).toContain(
      `commit ${orphanCid.toString()}: parent ${lost.toString()} is not held`,
    );
    await g.close();
    await ledger.close();
  });
});
