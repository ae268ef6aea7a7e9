// Token revocation: a revoked token is refused on its next request and the WebSocket sessions
// that used it are closed — in one process, and on every process of a Postgres deployment.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { signToken, tokenId } from "../../src/server/index.js";
import {
  dropSchema,
  freshSchema,
  postgresUrl,
  requirePostgres,
} from "../fixtures/postgres.js";
import { killAll, startServer as startProcess } from "../sync/processes.js";
import type { ClientMessage } from "../../src/sync/protocol/index.js";
import { post, SECRET, startServer, TestSocket } from "./harness.js";

const pull = (id: number): ClientMessage => ({
  t: "pull",
  id,
  ledger: "orders",
  have: [],
});

/** Resolves with the close and how long after `since` it came; fails after `ms`. */
function closedWithin(socket: TestSocket, since: number, ms: number) {
  return Promise.race([
    socket.closed.then((c) => ({ ...c, after: Date.now() - since })),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms),
    ),
  ]);
}

describe("token revocation, one process", () => {
  it("refuses the token from its next request, closes its sessions, and leaves other tokens alone", async () => {
    const running = await startServer({ secret: SECRET });
    try {
      const revoked = signToken(SECRET, { ledgers: ["orders"], write: true });
      const kept = signToken(SECRET, { ledgers: ["orders"], write: true });
      const id = tokenId(revoked)!;
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(tokenId(kept)).not.toBe(id);
      expect(
        (await post(running.url, pull(1), { token: revoked })).status,
      ).toBe(200);
      const doomed = await TestSocket.hello(running.wsUrl, revoked);
      const spared = await TestSocket.hello(running.wsUrl, kept);
      const at = Date.now();
      await running.server.revokeToken(id);
      const closed = await closedWithin(doomed, at, 1000);
      expect(closed.code).toBe(1008);
      const refused = await post(running.url, pull(2), { token: revoked });
      expect(refused.status).toBe(401);
      expect(refused.messages[0]).toMatchObject({
        t: "error",
        reason: "unauthorized",
      });
      expect(JSON.stringify(refused.messages[0])).toContain("revoked");
      // A new session with it is refused at hello.
      await expect(TestSocket.hello(running.wsUrl, revoked)).rejects.toThrow(
        /unauthorized/,
      );
      // The other token and its session go on.
      expect((await post(running.url, pull(3), { token: kept })).status).toBe(
        200,
      );
      spared.send(pull(4));
      expect(await spared.next()).toMatchObject({ t: "heads", id: 4 });
      spared.ws.close();
    } finally {
      await running.close();
    }
  });
});

const schema = freshSchema("revoke");
afterEach(() => killAll());
afterAll(async () => {
  await dropSchema(schema);
});

describe("token revocation, three processes on Postgres", () => {
  it("a token revoked with `kiln token revoke` is refused, and its sessions closed, on every process within a second", async () => {
    await requirePostgres();
    const storage = postgresUrl(schema);
    const args = ["--port", "0", "--storage", storage, "--secret", SECRET];
    // One process first applies the migrations, so the others find the schema ready.
    const first = await startProcess(args);
    const servers = [
      first,
      ...(await Promise.all([0, 1].map(() => startProcess(args)))),
    ];
    const token = signToken(SECRET, { ledgers: ["orders"], write: true });
    const kept = signToken(SECRET, { ledgers: ["orders"] });
    const sockets = await Promise.all(
      servers.map((s) =>
        TestSocket.hello(`${s.url.replace("http:", "ws:")}/kiln`, token),
      ),
    );
    for (const s of servers)
      expect((await post(`${s.url}/kiln`, pull(1), { token })).status).toBe(
        200,
      );
    const out: string[] = [];
    const err: string[] = [];
    const at = Date.now();
    const code = await main(
      ["token", "revoke", token, "--storage", storage],
      {},
      (l) => out.push(l),
      (l) => err.push(l),
    );
    expect({ code, err }).toEqual({ code: 0, err: [] });
    expect(out).toEqual([`revoked token ${tokenId(token)!}`]);
    const closes = await Promise.all(
      sockets.map((s) => closedWithin(s, at, 1000)),
    );
    for (const c of closes) expect(c.code).toBe(1008);
    for (const s of servers) {
      const reply = await post(`${s.url}/kiln`, pull(2), { token });
      expect(reply.status, s.url).toBe(401);
      expect(
        (await post(`${s.url}/kiln`, pull(3), { token: kept })).status,
      ).toBe(200);
    }
    // A process started after the revocation loads it.
    const late = await startProcess(args);
    expect((await post(`${late.url}/kiln`, pull(4), { token })).status).toBe(
      401,
    );
  }, 60_000);
});
