// Bearer tokens: signing and verifying, and the server's refusal matrix over both transports —
// each refusal typed (unauthorized / forbidden) and changing nothing stored.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  parseDuration,
  signToken,
  verifyToken,
} from "../../src/server/index.js";
import type { ClientMessage } from "../../src/sync/protocol/index.js";
import { toBase64url, utf8 } from "../../src/util/bytes.js";
import {
  makeChain,
  makeCommit,
  post,
  SECRET,
  snapshot,
  startServer,
  TestSocket,
  wire,
  type Running,
} from "./harness.js";

const NOW = Date.UTC(2030, 0, 1);

describe("tokens", () => {
  it("verifies what it signed", () => {
    const token = signToken(SECRET, {
      ledgers: ["orders", "stock"],
      write: true,
      expiresIn: 3600,
      now: NOW,
    });
    expect(token).toMatch(/^kiln1\.[\w-]+\.[\w-]+$/);
    expect(verifyToken(SECRET, token, NOW + 1000)).toEqual({
      ledgers: ["orders", "stock"],
      write: true,
      expiresAt: NOW / 1000 + 3600,
      id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) as unknown,
    });
    expect(
      verifyToken(SECRET, signToken(SECRET, { ledgers: ["*"] }), NOW),
    ).toEqual({
      ledgers: ["*"],
      write: false,
      id: expect.any(String) as unknown,
    });
  });

  it("refuses a forged, tampered, malformed or expired token as unauthorized", () => {
    const token = signToken(SECRET, {
      ledgers: ["orders"],
      expiresIn: 60,
      now: NOW,
    });
    const [prefix, , sig] = token.split(".");
    const forgedClaims = toBase64url(
      utf8(JSON.stringify({ l: ["*"], w: true, iat: NOW / 1000 })),
    );
    const bad = [
      signToken("another-secret-of-enough-length", { ledgers: ["orders"] }),
      `${prefix}.${forgedClaims}.${sig}`,
      token.slice(0, -2),
      "kiln1.abc",
      "not a token",
      "",
      `kiln2${token.slice(5)}`,
    ];
    for (const t of bad)
      expect(() => verifyToken(SECRET, t, NOW), t).toThrow(
        expect.objectContaining({ reason: "unauthorized" }),
      );
    expect(() => verifyToken(SECRET, token, NOW + 60_000)).toThrow(/expired/);
    // The message never repeats the token.
    try {
      verifyToken(SECRET, token, NOW + 60_000);
    } catch (error) {
      expect((error as Error).message).not.toContain(token.split(".")[1]);
    }
  });

  it("accepts only the canonical base64url spelling of a signature and of the claims", () => {
    const token = signToken(SECRET, { ledgers: ["orders"], now: NOW });
    const [prefix, claims, sig] = token.split(".") as [string, string, string];
    // 32 bytes are 43 characters: the last carries 2 bits that must be zero. Setting one of
    // them spells the same bytes another way.
    const alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(sig.at(-1)!);
    expect(last & 3).toBe(0);
    const twin = sig.slice(0, -1) + alphabet[last | 1]!;
    expect(() =>
      verifyToken(SECRET, `${prefix}.${claims}.${twin}`, NOW),
    ).toThrow(expect.objectContaining({ reason: "unauthorized" }));
    expect(verifyToken(SECRET, token, NOW)).toMatchObject({
      ledgers: ["orders"],
    });
  });

  it("names no ledger that is not a ledger name, but * alone for every ledger", () => {
    expect(() => signToken(SECRET, { ledgers: ["\uD800x"] })).toThrow(
      /well-formed/,
    );
    expect(() => signToken(SECRET, { ledgers: ["a\uFFFD"] })).toThrow(
      /U\+FFFD/,
    );
    expect(signToken(SECRET, { ledgers: ["*"] })).toMatch(/^kiln1\./);
  });

  it("refuses short secrets and empty grants", () => {
    expect(() => signToken("short", { ledgers: ["a"] })).toThrow(/16/);
    expect(() => signToken(SECRET, { ledgers: [] })).toThrow(/at least one/);
    expect(() => signToken(SECRET, { ledgers: ["a"], expiresIn: -1 })).toThrow(
      /expiresIn/,
    );
  });

  it("parses durations", () => {
    expect(parseDuration("30d")).toBe(30 * 86_400);
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("2w")).toBe(14 * 86_400);
    expect(parseDuration("12h")).toBe(43_200);
    expect(parseDuration("0d")).toBeUndefined();
    expect(parseDuration("3 days")).toBeUndefined();
  });
});

describe("the server's refusal matrix", () => {
  let running: Running;
  let clock = NOW;
  const base = makeChain(2);
  const tokens = {
    write: signToken(SECRET, { ledgers: ["orders"], write: true, now: NOW }),
    all: signToken(SECRET, { ledgers: ["*"], write: true, now: NOW }),
    read: signToken(SECRET, { ledgers: ["orders"], now: NOW }),
    other: signToken(SECRET, { ledgers: ["stock"], write: true, now: NOW }),
    forged: signToken("another-secret-of-enough-length", {
      ledgers: ["*"],
      write: true,
      now: NOW,
    }),
    expired: signToken(SECRET, {
      ledgers: ["orders"],
      write: true,
      expiresIn: 60,
      now: NOW - 3_600_000,
    }),
    malformed: "kiln1.e30.AAAA",
  };
  type Who = keyof typeof tokens | "none";
  const token = (who: Who) => (who === "none" ? undefined : tokens[who]);

  beforeAll(async () => {
    running = await startServer({ secret: SECRET, clock: () => clock });
    const ack = await post(
      running.url,
      { t: "push", id: 1, ledger: "orders", commits: wire(base) },
      { token: tokens.write },
    );
    expect(ack.messages[0]).toMatchObject({ t: "ack", stored: 2 });
  });

  afterAll(() => running.close());

  const next = () => makeCommit([base[1]!.cid]);
  const expectations: [
    Who,
    "pull" | "push",
    "ok" | "unauthorized" | "forbidden",
  ][] = [
    ["none", "pull", "unauthorized"],
    ["none", "push", "unauthorized"],
    ["malformed", "pull", "unauthorized"],
    ["forged", "pull", "unauthorized"],
    ["forged", "push", "unauthorized"],
    ["expired", "pull", "unauthorized"],
    ["expired", "push", "unauthorized"],
    ["read", "pull", "ok"],
    ["read", "push", "forbidden"],
    ["other", "pull", "forbidden"],
    ["other", "push", "forbidden"],
    ["write", "pull", "ok"],
  ];

  const request = (op: "pull" | "push", id: number): ClientMessage =>
    op === "pull"
      ? { t: "pull", id, ledger: "orders", have: [] }
      : { t: "push", id, ledger: "orders", commits: wire([next()]) };

  for (const [who, op, outcome] of expectations)
    it(`over HTTP, ${op} with ${who} token: ${outcome}`, async () => {
      const before = await snapshot(running.backend, ["orders", "stock"]);
      const t = token(who);
      const reply = await post(
        running.url,
        request(op, 5),
        t !== undefined ? { token: t } : {},
      );
      if (outcome === "ok") expect(reply.status).toBe(200);
      else {
        expect(reply.status).toBe(outcome === "unauthorized" ? 401 : 403);
        // A bad Authorization header is refused before the body is read: no id to echo.
        const unread = outcome === "unauthorized" && t !== undefined;
        expect(reply.messages).toEqual([
          unread
            ? {
                t: "error",
                reason: outcome,
                message: expect.any(String) as string,
              }
            : expect.objectContaining({ t: "error", id: 5, reason: outcome }),
        ]);
      }
      expect(await snapshot(running.backend, ["orders", "stock"])).toEqual(
        before,
      );
    });

  for (const [who, op, outcome] of expectations)
    it(`over a WebSocket, ${op} with ${who} token: ${outcome}`, async () => {
      const before = await snapshot(running.backend, ["orders", "stock"]);
      const socket = await TestSocket.open(running.wsUrl);
      try {
        const t = token(who);
        socket.send({
          t: "hello",
          id: 1,
          v: [2],
          ...(t ? { tokens: [t] } : {}),
        });
        const welcome = await socket.next();
        if (
          who === "none" ||
          who === "malformed" ||
          who === "forged" ||
          who === "expired"
        ) {
          // Refused at hello: the error frame, then the server closes the socket, reading
          // nothing more from it.
          expect(welcome).toMatchObject({
            t: "error",
            id: 1,
            reason: "unauthorized",
          });
          expect(await socket.closed).toEqual({
            code: 1008,
            reason: "unauthorized",
          });
        } else {
          expect(welcome).toMatchObject({ t: "welcome" });
          const reply = await socket.request(request(op, 2));
          if (outcome === "ok") expect(reply.at(-1)!.t).not.toBe("error");
          else
            expect(reply).toEqual([
              expect.objectContaining({ t: "error", id: 2, reason: outcome }),
            ]);
          // The session survives a refusal.
          expect(await socket.request({ t: "ping", id: 3 })).toEqual([
            { t: "pong", id: 3 },
          ]);
        }
      } finally {
        await socket.close();
      }
      expect(await snapshot(running.backend, ["orders", "stock"])).toEqual(
        before,
      );
    });

  it("refuses a hello without a token over HTTP and accepts the header token", async () => {
    const none = await post(running.url, { t: "hello", id: 1, v: [2] });
    expect(none.status).toBe(401);
    const ok = await post(
      running.url,
      { t: "hello", id: 2, v: [2] },
      { token: tokens.read },
    );
    expect(ok.messages[0]).toMatchObject({ t: "welcome", id: 2 });
  });

  it("accepts the token of the upgrade request's Authorization header", async () => {
    const socket = await TestSocket.open(running.wsUrl, {
      authorization: `Bearer ${tokens.read}`,
    });
    try {
      socket.send({ t: "hello", id: 1, v: [2] });
      expect(await socket.next()).toMatchObject({ t: "welcome" });
      const reply = await socket.request({
        t: "pull",
        id: 2,
        ledger: "orders",
        have: [],
      });
      expect(reply.at(-1)).toMatchObject({ t: "heads" });
    } finally {
      await socket.close();
    }
  });

  it("a write token stores, and a '*' token opens every ledger", async () => {
    const c = next();
    const ack = await post(
      running.url,
      { t: "push", id: 1, ledger: "orders", commits: wire([c]) },
      { token: tokens.write },
    );
    expect(ack.messages[0]).toMatchObject({ t: "ack", stored: 1 });
    const fresh = await post(
      running.url,
      { t: "push", id: 2, ledger: "anything", commits: wire([makeCommit()]) },
      { token: tokens.all },
    );
    expect(fresh.messages[0]).toMatchObject({ t: "ack", stored: 1 });
  });

  it("stops a session's rights and live changes when its token expires", async () => {
    const expiring = signToken(SECRET, {
      ledgers: ["orders"],
      write: true,
      expiresIn: 60,
      now: clock,
    });
    const socket = await TestSocket.hello(running.wsUrl, expiring);
    try {
      const heads = await socket.request({
        t: "pull",
        id: 1,
        ledger: "orders",
        have: [],
        live: true,
      });
      expect(heads.at(-1)).toMatchObject({ t: "heads" });
      clock += 61_000;
      const current = await running.backend.getHeads("orders");
      await post(
        running.url,
        {
          t: "push",
          id: 2,
          ledger: "orders",
          commits: wire([makeCommit(current)]),
        },
        { token: tokens.write },
      );
      expect(await socket.next()).toMatchObject({
        t: "error",
        reason: "unauthorized",
      });
      expect(
        await socket.request({ t: "pull", id: 3, ledger: "orders", have: [] }),
      ).toEqual([
        expect.objectContaining({ t: "error", id: 3, reason: "unauthorized" }),
      ]);
      // A hello with a fresh token renews the session.
      const renewed = signToken(SECRET, { ledgers: ["orders"], now: clock });
      socket.send({ t: "hello", id: 4, v: [2], tokens: [renewed] });
      expect(await socket.next()).toMatchObject({ t: "welcome", id: 4 });
      const again = await socket.request({
        t: "pull",
        id: 5,
        ledger: "orders",
        have: [],
      });
      expect(again.at(-1)).toMatchObject({ t: "heads", id: 5 });
    } finally {
      await socket.close();
      clock = NOW;
    }
  });

  it("gives a session the union of its hello's tokens, and refuses a hello if one fails", async () => {
    const socket = await TestSocket.open(running.wsUrl);
    try {
      socket.send({
        t: "hello",
        id: 1,
        v: [2],
        tokens: [tokens.read, tokens.other],
      });
      expect(await socket.next()).toMatchObject({ t: "welcome", id: 1 });
      const pulled = await socket.request({
        t: "pull",
        id: 2,
        ledger: "orders",
        have: [],
      });
      expect(pulled.at(-1)).toMatchObject({ t: "heads", id: 2 });
      const stock = await socket.request({
        t: "push",
        id: 3,
        ledger: "stock",
        commits: wire([makeCommit()]),
      });
      expect(stock).toEqual([
        expect.objectContaining({ t: "ack", id: 3, stored: 1 }),
      ]);
      // Reading orders does not make it writable.
      expect(await socket.request(request("push", 4))).toEqual([
        expect.objectContaining({ t: "error", id: 4, reason: "forbidden" }),
      ]);
    } finally {
      await socket.close();
    }
    const refused = await TestSocket.open(running.wsUrl);
    refused.send({
      t: "hello",
      id: 1,
      v: [2],
      tokens: [tokens.read, tokens.forged],
    });
    const refusal = await refused.next();
    expect(refusal).toMatchObject({
      t: "error",
      id: 1,
      reason: "unauthorized",
    });
    expect(refusal.t === "error" && refusal.message).toMatch(/^token 2 of 2: /);
    expect(await refused.closed).toEqual({
      code: 1008,
      reason: "unauthorized",
    });
  });

  it("ends, with a typed error frame naming the ledger, the live subscriptions a new hello no longer covers", async () => {
    // Issue 11, item 1: orders live under a short-lived token, then a hello for stock only;
    // after the first token's expiry, nothing of orders may arrive.
    const shortLived = signToken(SECRET, {
      ledgers: ["orders"],
      expiresIn: 60,
      now: clock,
    });
    const socket = await TestSocket.hello(running.wsUrl, shortLived);
    const writer = await TestSocket.hello(running.wsUrl, tokens.all);
    try {
      const live = await socket.request({
        t: "pull",
        id: 1,
        ledger: "orders",
        have: [],
        live: true,
      });
      expect(live.at(-1)).toMatchObject({ t: "heads", id: 1 });
      socket.send({ t: "hello", id: 2, v: [2], tokens: [tokens.other] });
      expect(await socket.next()).toMatchObject({ t: "welcome", id: 2 });
      const ended = await socket.next();
      expect(ended).toMatchObject({
        t: "error",
        ledger: "orders",
        reason: "forbidden",
      });
      expect(ended.t === "error" && ended.message).toMatch(
        /^live changes of ledger "orders" stopped: /,
      );
      expect(await socket.request(request("pull", 3))).toEqual([
        expect.objectContaining({ t: "error", id: 3, reason: "forbidden" }),
      ]);
      // A change of orders now reaches nobody on this socket; a ping proves the order of
      // frames: a live push would have come before the pong.
      clock += 61_000;
      const heads = await running.backend.getHeads("orders");
      expect(
        await writer.request({
          t: "push",
          id: 1,
          ledger: "orders",
          commits: wire([makeCommit(heads)]),
        }),
      ).toEqual([expect.objectContaining({ t: "ack", stored: 1 })]);
      expect(await socket.request({ t: "ping", id: 4 })).toEqual([
        { t: "pong", id: 4 },
      ]);
      expect(socket.pending).toBe(0);
    } finally {
      clock = NOW;
      await socket.close();
      await writer.close();
    }
  });
});
