// The SyncServer enforces membership blind, in a real `kiln serve` process: a holder of the
// content key who is not a member forges a commit on the ledger's head and pushes it over
// WebSocket and over HTTP; both are refused with `not-member`, nothing of them is stored,
// and the member's own writes keep syncing.
import { randomBytes } from "node:crypto";
import { CID } from "multiformats/cid";
import { afterEach, describe, expect, it } from "vitest";
import { encodeDocValue } from "../../src/blocks/cbor-writer.js";
import { sealBytes } from "../../src/blocks/commit.js";
import { decodeLedgerKey } from "../../src/blocks/ledger-key.js";
import { nodeCrypto } from "../../src/blocks/node-crypto.js";
import { encodeEvent } from "../../src/crdt/event.js";
import { nodeSigning, openLedger } from "../../src/index.js";
import type { Ledger } from "../../src/index.js";
import { PROTOCOL_VERSIONS } from "../../src/sync/protocol/index.js";
import { post, TestSocket } from "../server/harness.js";
import { killAll, startServer } from "../sync/processes.js";

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  killAll();
});

async function forge(ledger: Ledger, parents: readonly CID[], tag: string) {
  const forger = await nodeSigning.importSigner(randomBytes(32));
  return sealBytes(
    nodeCrypto,
    decodeLedgerKey(ledger.key),
    parents,
    encodeEvent({ h: 2, ops: [[tag, encodeDocValue({ forged: true })]] }),
    forger,
  );
}

describe("kiln serve and a membered ledger", () => {
  it("refuses a non-member's push over WebSocket and HTTP with not-member, storing nothing", async () => {
    const server = await startServer(["--port", "0", "--storage", "memory://"]);
    cleanup.push(() => server.stop());
    const endpoint = `${server.url}/kiln`;
    const a = await openLedger("orders", {
      storage: "memory://",
      members: true,
    });
    cleanup.push(() => a.close());
    const ca = a.connect(server.url);
    await a.put({ _id: "o1" });
    await ca.synced();
    const head = a.clock.map((c) => CID.parse(c));

    const overWs = await forge(a, head, "ws");
    const socket = await TestSocket.hello(endpoint.replace("http:", "ws:"));
    cleanup.push(() => socket.close());
    const wsReply = await socket.request({
      t: "push",
      id: 1,
      ledger: "orders",
      commits: [[overWs.cid, overWs.bytes]],
      heads: [overWs.cid],
    });
    expect(wsReply.at(-1)).toMatchObject({ t: "error", reason: "not-member" });

    const overHttp = await forge(a, head, "http");
    await post(endpoint, {
      t: "hello",
      id: 0,
      v: [...PROTOCOL_VERSIONS],
      client: "forger",
    });
    const httpReply = await post(endpoint, {
      t: "push",
      id: 2,
      ledger: "orders",
      commits: [[overHttp.cid, overHttp.bytes]],
    });
    expect(httpReply.status).toBe(403);
    expect(httpReply.messages.at(-1)).toMatchObject({
      t: "error",
      reason: "not-member",
    });

    // Nothing of either is stored: a pull from nothing gets a's commits alone.
    const pulled = await socket.request({
      t: "pull",
      id: 3,
      ledger: "orders",
      have: [],
    });
    const stored = pulled
      .flatMap((m) => (m.t === "commits" ? m.commits : []))
      .map(([cid]) => cid.toString());
    expect(stored.sort()).toEqual([...a.clock].sort());
    expect(stored).not.toContain(overWs.cid.toString());
    expect(stored).not.toContain(overHttp.cid.toString());

    // The member keeps writing and syncing; a fresh replica gets exactly its docs.
    await a.put({ _id: "o2" });
    await ca.synced();
    const b = await openLedger("orders", { storage: "memory://", key: a.key });
    cleanup.push(() => b.close());
    await b.connect(server.url).synced();
    expect((await b.allDocs()).rows.map((r) => r.id)).toEqual(["o1", "o2"]);
    expect(b.members()).toEqual(a.members());
  }, 60_000);
});
