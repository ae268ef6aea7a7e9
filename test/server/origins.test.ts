// Which web pages may call a SyncServer: CORS for HTTP and the Origin of a WebSocket upgrade.
// Without a secret only loopback pages (a dev server on this machine) are admitted, so a
// site the user visits cannot read or write a local `kiln serve`; with a secret any page may
// (bearer tokens, not cookies, carry the rights); --allow-origin lists them explicitly.
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { main } from "../../src/cli/main.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { createSyncServer } from "../../src/server/index.js";
import type { SyncServer } from "../../src/server/index.js";
import { createOriginPolicy } from "../../src/server/origin-policy.js";
import { CONTENT_TYPE, encodeMessage } from "../../src/sync/protocol/index.js";
import { makeCommit, SECRET, wire } from "./harness.js";

const LOOPBACK = [
  "http://localhost:5173",
  "http://127.0.0.1:3000",
  "https://127.9.9.9",
  "http://[::1]:8080",
  "http://app.localhost:4000",
];
const FOREIGN = [
  "https://evil.example",
  "http://192.168.1.10:5173",
  "null",
  "file://",
  "http://localhost.evil.example",
];

describe("origin policy", () => {
  it("without a secret admits loopback pages only, and clients that send no Origin", () => {
    const policy = createOriginPolicy({ hasSecret: false });
    for (const origin of LOOPBACK)
      expect(policy.allows(origin), origin).toBe(true);
    for (const origin of FOREIGN)
      expect(policy.allows(origin), origin).toBe(false);
    expect(policy.allows(null)).toBe(true);
    expect(policy.corsHeaders("http://localhost:5173")).toMatchObject({
      "access-control-allow-origin": "http://localhost:5173",
      vary: "origin",
    });
    expect(policy.corsHeaders("https://evil.example")).not.toHaveProperty(
      "access-control-allow-origin",
    );
  });

  it("with a secret admits any page", () => {
    const policy = createOriginPolicy({ hasSecret: true });
    for (const origin of [...LOOPBACK, ...FOREIGN])
      expect(policy.allows(origin)).toBe(true);
    expect(policy.corsHeaders("https://evil.example")).toMatchObject({
      "access-control-allow-origin": "*",
    });
  });

  it("--allow-origin lists them exactly (canonical form), or * for any", () => {
    const policy = createOriginPolicy({
      hasSecret: false,
      allowOrigins: ["HTTPS://App.Example:443", "http://localhost:5173"],
    });
    expect(policy.allows("https://app.example")).toBe(true);
    expect(policy.allows("http://localhost:5173")).toBe(true);
    expect(policy.allows("http://localhost:5174")).toBe(false);
    expect(policy.allows("http://127.0.0.1:3000")).toBe(false);
    const any = createOriginPolicy({ hasSecret: false, allowOrigins: ["*"] });
    expect(any.allows("https://evil.example")).toBe(true);
    expect(() =>
      createOriginPolicy({
        hasSecret: false,
        allowOrigins: ["https://a.example/path"],
      }),
    ).toThrow(expect.objectContaining({ code: "invalid-argument" }) as unknown);
  });
});

describe("a SyncServer without a secret", () => {
  let server: SyncServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const push = (origin: string | undefined) => {
    const c = makeCommit();
    const headers: Record<string, string> = { "content-type": CONTENT_TYPE };
    if (origin) headers.origin = origin;
    return {
      cid: c.cid,
      request: new Request("http://127.0.0.1/", {
        method: "POST",
        headers,
        body: encodeMessage({
          t: "push",
          id: 1,
          ledger: "orders",
          commits: wire([c]),
          heads: [c.cid],
        }) as Uint8Array<ArrayBuffer>,
      }),
    };
  };

  it("serves a loopback page with CORS, refuses a foreign page's preflight and write, storing nothing", async () => {
    const backend = createMemoryBackend();
    server = createSyncServer({ backend });
    const preflight = (origin: string) =>
      server!.fetch(
        new Request("http://127.0.0.1/", {
          method: "OPTIONS",
          headers: { origin, "access-control-request-method": "POST" },
        }),
      );
    const ok = await preflight("http://localhost:5173");
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe(
      "http://localhost:5173",
    );
    const refused = await preflight("https://evil.example");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();

    const foreign = push("https://evil.example");
    const answer = await server.fetch(foreign.request);
    expect(answer.status).toBe(403);
    expect(await answer.text()).toContain(
      "origin https://evil.example is not allowed",
    );
    expect(await backend.getHeads("orders")).toEqual([]);

    const local = push("http://127.0.0.1:3000");
    expect((await server.fetch(local.request)).status).toBe(200);
    const node = push(undefined);
    expect((await server.fetch(node.request)).status).toBe(200);
    expect((await backend.getHeads("orders")).map(String).sort()).toEqual(
      [local.cid, node.cid].map(String).sort(),
    );
  });

  it("refuses a WebSocket upgrade from a foreign page, accepts one from a loopback page", async () => {
    server = createSyncServer({ backend: createMemoryBackend() });
    const { url } = await server.listen({ port: 0 });
    const wsUrl = url.replace(/^http/, "ws");
    const open = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(wsUrl, { origin });
        socket.once("open", () => {
          socket.close();
          resolve(101);
        });
        socket.once("unexpected-response", (_req, res) => {
          resolve(res.statusCode ?? 0);
          socket.terminate();
        });
        socket.once("error", reject);
      });
    expect(await open("https://evil.example")).toBe(403);
    expect(await open("http://localhost:5173")).toBe(101);
  });

  it("with --allow-origin admits exactly those; with a secret, any", async () => {
    server = createSyncServer({
      backend: createMemoryBackend(),
      allowOrigins: ["https://app.example"],
    });
    expect(
      (await server.fetch(push("https://app.example").request)).status,
    ).toBe(200);
    expect(
      (await server.fetch(push("http://localhost:5173").request)).status,
    ).toBe(403);
    await server.close();
    server = createSyncServer({
      backend: createMemoryBackend(),
      secret: SECRET,
    });
    const open = await server.fetch(
      new Request("http://127.0.0.1/", {
        method: "OPTIONS",
        headers: { origin: "https://anyone.example" },
      }),
    );
    expect(open.status).toBe(204);
    expect(open.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("kiln serve refuses a malformed --allow-origin", async () => {
    const err: string[] = [];
    const code = await main(
      [
        "serve",
        "--storage",
        "memory://",
        "--port",
        "0",
        "--allow-origin",
        "https://app.example/path",
      ],
      {},
      () => undefined,
      (line) => err.push(line),
    );
    expect(code).toBe(2);
    expect(err.join("\n")).toContain("--allow-origin");
  });
});
