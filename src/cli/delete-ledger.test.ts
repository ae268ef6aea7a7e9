// kiln delete-ledger against a real SyncServer on a loopback port: a write token for the
// ledger deletes every commit, head and snapshot of it; a read token or another ledger's
// token is refused and nothing is deleted.
import { CID } from "multiformats/cid";
import { afterEach, describe, expect, it } from "vitest";
import { openLedger } from "../platform/node-platform.js";
import { createMemoryBackend } from "../server/backends/memory-backend.js";
import { createSyncServer, signToken } from "../server/index.js";
import { main } from "./main.js";

const SECRET = "a-test-secret-of-enough-length";
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    {},
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out, err };
}

describe("kiln delete-ledger", () => {
  it("deletes a ledger for a write token of it, and refuses any other token", async () => {
    const backend = createMemoryBackend();
    const server = createSyncServer({ backend, secret: SECRET });
    const listener = await server.listen({ port: 0, host: "127.0.0.1" });
    cleanup.push(() => server.close());
    const url = listener.url.replace(/\/$/, "");
    const write = signToken(SECRET, { ledgers: ["orders"], write: true });
    const read = signToken(SECRET, { ledgers: ["orders"], write: false });
    const other = signToken(SECRET, { ledgers: ["other"], write: true });

    const ledger = await openLedger("orders", { storage: "memory://" });
    cleanup.push(() => ledger.close());
    const conn = ledger.connect(`${url}?transport=ws`, { token: write });
    for (let i = 0; i < 5; i++) await ledger.put({ _id: `d${i}` });
    await conn.publishSnapshot();
    await conn.close();
    expect(await backend.getHeads("orders")).toHaveLength(1);

    for (const [token, reason] of [
      [read, "forbidden"],
      [other, "forbidden"],
      ["kiln1.bad.token", "unauthorized"],
    ] as const) {
      const refused = await run([
        "delete-ledger",
        "orders",
        "--server",
        url,
        "--token",
        token,
      ]);
      expect(refused.code).toBe(1);
      expect(refused.err[0]).toContain(reason);
      expect(await backend.getHeads("orders")).toHaveLength(1);
    }

    const done = await run([
      "delete-ledger",
      "orders",
      "--server",
      url.replace(/^http/, "ws"),
      "--token",
      write,
    ]);
    expect(done.code).toBe(0);
    expect(done.out[0]).toContain("deleted orders");
    expect(await backend.getHeads("orders")).toEqual([]);
    expect(await backend.getSnapshot("orders")).toBeUndefined();
    const head = CID.parse(ledger.clock[0]!);
    expect(await backend.getCommits("orders", [head])).toEqual([undefined]);

    expect((await run(["delete-ledger", "orders"])).code).toBe(2);
  });
});
