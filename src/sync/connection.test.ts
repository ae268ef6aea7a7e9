// The sync engine on fake time against fake remotes: no socket, no real timer. Each test
// moves a FakeClock and asserts what the engine did at which (fake) moment.
import { CID } from "multiformats/cid";
import { describe, expect, it } from "vitest";
import {
  FakeHost,
  FakeOpener,
  FakeServer,
  makeCommit,
} from "../../test/fixtures/fake-sync.js";
import { backoffDelay } from "../util/backoff.js";
import type { BackoffOptions } from "../util/backoff.js";
import { FakeClock } from "../util/fake-clock.js";
import { Connection } from "./connection.js";
import type { ConnectionOptions, ConnectionStatus } from "./connection.js";
import { ProtocolError } from "./protocol/index.js";
import type { RemoteOpener } from "./remote-opener.js";
import {
  createFailoverOpener,
  createNegotiatingOpener,
} from "./remote-opener.js";
import { TransportError } from "./transport-error.js";
import { CorruptError, DecryptError } from "../util/errors.js";

const BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 1600 };

function setup(options: { random?: () => number } = {}) {
  const clock = new FakeClock();
  const server = new FakeServer(clock);
  const host = new FakeHost();
  const open = (opener: RemoteOpener, more: ConnectionOptions = {}) =>
    new Connection(
      host,
      { url: "ws://fake", ledger: "orders", remoteId: "r1" },
      opener,
      {
        clock,
        backoff: BACKOFF,
        random: options.random ?? (() => 0.5),
        pollWaitMs: 5_000,
        ...more,
      },
    );
  return { clock, server, host, open };
}

/** Moves fake time until the promise settles (at most `limitMs`), then returns it. */
async function within<T>(
  clock: FakeClock,
  promise: Promise<T>,
  limitMs = 60_000,
): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await clock.until(() => settled, limitMs);
  return promise;
}

function statuses(c: Connection): ConnectionStatus[] {
  const seen: ConnectionStatus[] = [];
  c.on("status", (s) => seen.push(s));
  return seen;
}

const heads = (server: FakeServer) => server.graph.heads().sort();

describe("Connection on fake time", () => {
  it("pushes the outbox, pulls what the remote holds, then follows both live", async () => {
    const { clock, server, host, open } = setup();
    for (let i = 0; i < 3; i++) host.write();
    const theirs = makeCommit([]);
    server.publish([theirs]);
    const c = open(new FakeOpener(server));
    expect(c.pending).toBe(0); // not counted before the first push cycle
    await within(clock, c.synced());
    expect(c.status).toEqual({ kind: "live", transport: "ws" });
    expect(server.graph.commits.size).toBe(4);
    expect(host.has(theirs.cid.toString())).toBe(true);
    expect(c.pending).toBe(0);

    // Live both ways, without synced(): a write of another client arrives, and a local
    // write is pushed.
    const next = makeCommit(server.graph.heads().map((h) => CID.parse(h)));
    server.publish([next]);
    await clock.until(() => host.has(next.cid.toString()), 1_000);
    const mine = host.write();
    await clock.until(() => server.graph.has(mine), 1_000);
    expect(heads(server)).toEqual([...host.heads()].sort());
    await c.close();
    expect(c.status.kind).toBe("closed");
    expect(clock.timers).toBe(0);
  });

  it("backs off exponentially with jitter up to the cap, and never gives up", async () => {
    const draws = [0, 1, 0.5, 0.25, 0.75, 1, 0, 1, 0.5, 0.1];
    let d = 0;
    const random = () => draws[d++ % draws.length]!;
    const { clock, server, host, open } = setup({ random });
    const opener = new FakeOpener(server);
    opener.refuse = new TransportError("ws", "connect ECONNREFUSED");
    host.write();
    const c = open(opener);
    const seen = statuses(c);
    const errors: Error[] = [];
    c.on("error", (e) => errors.push(e));
    await clock.until(() => opener.attempts.length === 10, 60_000);
    const gaps = opener.attempts
      .slice(1)
      .map((t, i) => t - opener.attempts[i]!);
    const expected = draws
      .slice(0, 9)
      .map((r, attempt) => backoffDelay(attempt, BACKOFF, () => r));
    expect(gaps).toEqual(expected);
    // 50..100, 200, 300, ... capped at 1600: the ceiling doubles and stops at maxMs.
    expect(Math.max(...gaps)).toBeLessThanOrEqual(BACKOFF.maxMs);
    expect(gaps.slice(5).every((g) => g >= BACKOFF.maxMs / 2)).toBe(true);
    // Each failure is on status (with the moment of the next try) and an error event.
    const backoffs = seen.filter((s) => s.kind === "backoff");
    expect(backoffs.length).toBe(10);
    expect(errors.length).toBe(10);
    expect(backoffs[0]).toMatchObject({
      error: opener.refuse,
      retryAt: opener.attempts[1],
    });
    expect(c.pending).toBe(0); // never reached a push cycle; the count starts there

    // The remote comes back: the next attempt succeeds and drains the outbox.
    opener.refuse = undefined;
    await within(clock, c.synced());
    expect(server.graph.commits.size).toBe(1);
    await c.close();
  });

  it("resets the backoff after a session that lasted, not after short ones", async () => {
    const { clock, server, open } = setup({ random: () => 1 });
    const opener = new FakeOpener(server);
    const c = open(opener, { stableMs: 10_000 });
    const delays: number[] = [];
    c.on("status", (s) => {
      if (s.kind === "backoff") delays.push(s.retryAt - clock.now());
    });
    const liveSession = async (ms: number) => {
      await clock.until(() => opener.current !== undefined);
      await clock.advance(ms);
      opener.current!.drop();
      await clock.until(() => c.status.kind === "backoff");
    };
    await liveSession(1_000);
    await liveSession(1_000);
    await liveSession(1_000);
    await liveSession(20_000); // lasted: the next wait starts over
    expect(delays).toEqual([100, 200, 400, 100]);
    await c.close();
  });

  it("reconnects at once after a server goes away (1001), and backs off when the next session goes away within a second", async () => {
    const { clock, server, open } = setup();
    const opener = new FakeOpener(server);
    const c = open(opener);
    const seen = statuses(c);
    const goingAway = () =>
      new TransportError(
        "ws",
        "socket closed (1001 the server is shutting down)",
        {
          closeCode: 1001,
        },
      );
    await clock.until(() => c.status.kind === "live");
    const first = opener.current!;
    const droppedAt = clock.now();
    first.drop(goingAway());
    await clock.until(
      () => opener.current !== first && opener.current !== undefined,
    );
    // A new session without any time passing and without a backoff status.
    expect(opener.attempts).toHaveLength(2);
    expect(opener.attempts[1]).toBe(droppedAt);
    expect(seen.map((s) => s.kind)).not.toContain("backoff");
    await clock.until(() => c.status.kind === "live");
    opener.current!.drop(goingAway());
    await clock.until(() => c.status.kind === "backoff");
    await c.close();
  });

  it("fails over between the servers of one remote at once, and back when one dies", async () => {
    const { clock, server, host, open } = setup();
    const one = new FakeOpener(server);
    const two = new FakeOpener(server);
    one.refuse = new TransportError("ws", "connect ECONNREFUSED");
    const c = open(createFailoverOpener([one, two]));
    host.write();
    await within(clock, c.synced());
    // Server one refused; server two was tried in the same attempt, with no backoff.
    expect(one.attempts.length).toBe(1);
    expect(two.attempts).toEqual(one.attempts);
    expect(two.current).toBeDefined();

    // Server two dies mid-session and stays down; one is back.
    one.refuse = undefined;
    two.refuse = new TransportError("ws", "connect ECONNREFUSED");
    two.current!.drop();
    const written = host.write();
    await clock.until(() => one.current !== undefined, 5_000);
    await within(clock, c.synced());
    expect(server.graph.has(written)).toBe(true);
    expect(two.attempts.length).toBe(1); // left at once, not retried first
    await c.close();
    expect(one.isClosed && two.isClosed).toBe(true);
  });

  it("falls back to HTTP when WebSocket is refused, and moves back once it opens", async () => {
    const { clock, server, host, open } = setup();
    const ws = new FakeOpener(server, { transport: "ws" });
    const http = new FakeOpener(server, { transport: "http" });
    ws.refuse = new TransportError("ws", "upgrade refused (426)");
    const opener = createNegotiatingOpener(
      { ws: () => ws.open(), http: () => http.open() },
      undefined,
      { clock, wsRetry: { baseMs: 2_000, maxMs: 8_000 }, random: () => 1 },
    );
    const c = open(opener);
    const seen = statuses(c);
    host.write();
    await within(clock, c.synced());
    expect(c.status).toEqual({ kind: "live", transport: "http" });
    expect(server.pushes.map((p) => p.transport)).toEqual(["http"]);

    // A write elsewhere reaches the HTTP session by long-poll, without synced().
    const theirs = makeCommit(server.graph.heads().map((h) => CID.parse(h)));
    server.publish([theirs]);
    await clock.until(() => host.has(theirs.cid.toString()), 1_000);

    // WebSocket is tried again after wsRetry (2 s, then 4 s), and taken once it opens.
    await clock.advance(2_000);
    expect(ws.attempts.length).toBe(2);
    ws.refuse = undefined;
    await clock.until(
      () => c.status.kind === "live" && c.status.transport === "ws",
      10_000,
    );
    expect(ws.attempts.length).toBe(3);
    expect(http.opened.every((r) => r.isClosed)).toBe(true);
    // The switch is seamless: no backoff, no error on the way.
    expect(seen.some((s) => s.kind === "backoff")).toBe(false);
    const mine = host.write();
    await within(clock, c.synced());
    expect(server.graph.has(mine)).toBe(true);
    expect(server.pushes.at(-1)!.transport).toBe("ws");
    await c.close();
  });

  it("moves to HTTP when WebSocket sessions keep dropping", async () => {
    const { clock, server, open } = setup();
    const ws = new FakeOpener(server, { transport: "ws" });
    const http = new FakeOpener(server, { transport: "http" });
    const opener = createNegotiatingOpener(
      { ws: () => ws.open(), http: () => http.open() },
      undefined,
      { clock, wsStableMs: 30_000, random: () => 1 },
    );
    const c = open(opener);
    for (let i = 0; i < 2; i++) {
      await clock.until(() => ws.current !== undefined);
      await clock.advance(500);
      ws.current!.drop();
    }
    await clock.until(
      () => c.status.kind === "live" && c.status.transport === "http",
      5_000,
    );
    expect(ws.opened.length).toBe(2);
    await c.close();
  });

  it("does not fall back to HTTP when the server refuses the client itself", async () => {
    const { clock, server, open } = setup();
    const ws = new FakeOpener(server, { transport: "ws" });
    const http = new FakeOpener(server, { transport: "http" });
    ws.refuse = new ProtocolError("unauthorized", "bad token");
    const c = open(
      createNegotiatingOpener(
        { ws: () => ws.open(), http: () => http.open() },
        undefined,
        { clock },
      ),
    );
    await clock.until(() => c.status.kind === "backoff");
    expect(c.status).toMatchObject({ error: ws.refuse });
    await clock.advance(10_000);
    expect(http.attempts).toEqual([]);
    await c.close();
  });
});

describe("Connection: the outbox", () => {
  it("counts writes made offline and drains them in batches the remote's limits allow, announcing each count", async () => {
    const { clock, server, host, open } = setup();
    const opener = new FakeOpener(server, {
      limits: { maxCommits: 3, maxMessage: 1 << 20 },
    });
    opener.refuse = new TransportError("ws", "offline");
    const c = open(opener);
    const counts: number[] = [];
    c.on("pending", (n) => counts.push(n));
    await clock.until(() => c.status.kind === "backoff");
    for (let i = 0; i < 10; i++) host.write();
    expect(c.pending).toBe(10);
    expect(counts).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    opener.refuse = undefined;
    await within(clock, c.synced());
    expect(c.pending).toBe(0);
    expect(opener.current!.pushes).toEqual([3, 3, 3, 1]);
    // Each acknowledged batch is an event, the recount at the push (still 10) is none.
    expect(counts.slice(10)).toEqual([7, 4, 1, 0]);
    await c.close();
  });

  it("sends one commit a message when each fills the remote's largest message", async () => {
    const { clock, server, host, open } = setup();
    const opener = new FakeOpener(server, {
      limits: { maxCommits: 1000, maxMessage: 200 },
    });
    for (let i = 0; i < 4; i++) host.write();
    const c = open(opener);
    await within(clock, c.synced());
    expect(opener.current!.pushes).toEqual([1, 1, 1, 1]);
    await c.close();
  });

  it("resumes a push broken mid-way without sending acknowledged batches again", async () => {
    const { clock, server, host, open } = setup();
    const opener = new FakeOpener(server, {
      limits: { maxCommits: 4, maxMessage: 1 << 20 },
    });
    for (let i = 0; i < 10; i++) host.write();
    // The second push of the first session breaks the wire.
    server.breakAfterPushes = 1;
    const c = open(opener);
    await within(clock, c.synced());
    const sent = server.pushes.reduce((n, p) => n + p.commits, 0);
    expect(sent).toBe(10);
    expect(opener.opened.length).toBe(2);
    await c.close();
  });

  it("pushes everything again to a remote that lost what it acknowledged", async () => {
    const { clock, server, host, open } = setup();
    for (let i = 0; i < 5; i++) host.write();
    const c = open(new FakeOpener(server));
    await within(clock, c.synced());
    server.lose(); // a memory-only server restarted, empty
    const last = host.write();
    await within(clock, c.synced());
    expect(server.graph.commits.size).toBe(6);
    expect(server.graph.has(last)).toBe(true);
    await c.close();
  });

  it("survives a restart: a new connection pushes only what the old one had not", async () => {
    const { clock, server, host, open } = setup();
    for (let i = 0; i < 5; i++) host.write();
    const first = open(new FakeOpener(server));
    await within(clock, first.synced());
    await first.close();
    expect(host.states.get("r1")?.pushed).toEqual(host.heads());
    for (let i = 0; i < 3; i++) host.write();
    const again = open(new FakeOpener(server));
    await within(clock, again.synced());
    expect(server.pushes.map((p) => p.commits)).toEqual([5, 3]);
    await again.close();
  });

  it("reports a damaged sync record and pushes everything again", async () => {
    const { clock, server, host, open } = setup();
    for (let i = 0; i < 2; i++) host.write();
    host.loadError = new CorruptError("sync state", "not valid json");
    const errors: Error[] = [];
    const c = open(new FakeOpener(server));
    c.on("error", (e) => errors.push(e));
    await within(clock, c.synced());
    expect(errors).toEqual([host.loadError]);
    expect(server.graph.commits.size).toBe(2);
    await c.close();
  });

  it("catches up by a pull when a live commit's parent never arrived", async () => {
    const { clock, server, host, open } = setup();
    const c = open(new FakeOpener(server));
    await within(clock, c.synced());
    const a = makeCommit([]);
    const b = makeCommit([a.cid]);
    // The server holds both but announces only b (a lost live message).
    server.graph.add(a);
    const live = [...server.remotes][0]!;
    c.on("error", (e) => {
      throw e;
    });
    server.graph.add(b);
    live.announce({ commits: [b], heads: [b.cid] });
    await clock.until(() => host.has(b.cid.toString()), 1_000);
    expect(host.has(a.cid.toString())).toBe(true);
    await c.close();
  });

  it("rejects synced() when the connection closes first, and leaves no timer", async () => {
    const { clock, server, open } = setup();
    const opener = new FakeOpener(server);
    opener.refuse = new TransportError("ws", "offline");
    const c = open(opener);
    const waiting = c.synced();
    await clock.advance(1_000);
    await c.close();
    await expect(waiting).rejects.toMatchObject({ code: "closed" });
    await expect(c.synced()).rejects.toMatchObject({ code: "closed" });
    expect(clock.timers).toBe(0);
    expect(opener.isClosed).toBe(true);
  });
});

describe("Connection: failures retrying cannot fix, and typed errors", () => {
  it("rejects synced() at once on a refused token, and keeps reporting and retrying", async () => {
    const { clock, server, open } = setup();
    const opener = new FakeOpener(server);
    opener.refuse = new ProtocolError("unauthorized", "the token has expired");
    const c = open(opener);
    const waiting = c.synced();
    const codes: string[] = [];
    c.on("error", (e) => {
      // Typed as the SyncError union: .reason after narrowing on .code, no cast.
      if (e.code === "protocol") codes.push(e.reason);
    });
    await expect(within(clock, waiting)).rejects.toBe(opener.refuse);
    expect(c.status).toMatchObject({ kind: "backoff", error: opener.refuse });
    // A later synced() rejects at once; the connection keeps trying all the same.
    await expect(c.synced()).rejects.toBe(opener.refuse);
    await clock.until(() => opener.attempts.length >= 4);
    expect(codes.length).toBeGreaterThanOrEqual(3);
    expect(new Set(codes)).toEqual(new Set(["unauthorized"]));
    // Once the server takes the client again (a token renewed server-side), it syncs.
    opener.refuse = undefined;
    await clock.until(() => c.status.kind === "live");
    await within(clock, c.synced());
    await c.close();
  });

  it("rejects synced() with the DecryptError of commits under another key", async () => {
    const { clock, server, host, open } = setup();
    server.publish([makeCommit([])]);
    host.receiveError = new DecryptError("bafy-stranger");
    const c = open(new FakeOpener(server));
    await expect(within(clock, c.synced())).rejects.toMatchObject({
      code: "decrypt",
    });
    expect(c.status).toMatchObject({
      kind: "backoff",
      error: { code: "decrypt" },
    });
    await c.close();
  });

  it("waits through failures retrying can fix", async () => {
    const { clock, server, open } = setup();
    const opener = new FakeOpener(server);
    opener.refuse = new ProtocolError("unavailable", "backend down");
    const c = open(opener);
    let settled = false;
    const waiting = c.synced().finally(() => (settled = true));
    await clock.advance(30_000);
    expect(settled).toBe(false);
    opener.refuse = undefined;
    await within(clock, waiting);
    await c.close();
  });

  it("reports a failure that is not a Kiln error as unexpected, keeping it as the cause", async () => {
    const { clock, server, open } = setup();
    const opener = new FakeOpener(server);
    const raw = new TypeError("third-party gateway bug");
    opener.refuse = raw;
    const c = open(opener);
    const first = new Promise((resolve) => c.on("error", resolve));
    await clock.until(() => c.status.kind === "backoff");
    expect(await first).toMatchObject({ code: "unexpected", cause: raw });
    await c.close();
  });
});

describe("Connection: direction", () => {
  it("push only: sends local writes, takes nothing of the remote's", async () => {
    const { clock, server, host, open } = setup();
    const theirs = makeCommit([]);
    server.publish([theirs]);
    const c = open(new FakeOpener(server), { direction: "push" });
    const mine = host.write();
    await within(clock, c.synced());
    expect(server.graph.has(mine)).toBe(true);
    const later = makeCommit([theirs.cid]);
    server.publish([later]);
    await clock.advance(10_000);
    expect(host.has(theirs.cid.toString())).toBe(false);
    expect(host.has(later.cid.toString())).toBe(false);
    // Live, without synced(): a local write is counted and pushed (telemetry writers).
    const next = host.write();
    expect(c.pending).toBe(1);
    await clock.until(() => server.graph.has(next), 1_000);
    await c.close();
  });

  it("pull only: takes the remote's commits, never sends local writes", async () => {
    const { clock, server, host, open } = setup();
    const theirs = makeCommit([]);
    server.publish([theirs]);
    const c = open(new FakeOpener(server), { direction: "pull" });
    const mine = host.write();
    await within(clock, c.synced());
    expect(host.has(theirs.cid.toString())).toBe(true);
    await clock.advance(10_000);
    expect(server.graph.has(mine)).toBe(false);
    expect(server.pushes).toEqual([]);
    await c.close();
  });
});
