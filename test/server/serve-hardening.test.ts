// `kiln serve` as an operator runs it, hardened (issue 11): its budgets set from the command
// line, and every storage failure on its stderr with the ledger, the file and the cause. One
// process serves every case here, to keep the cost of spawning it to one.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logFileName } from "../../src/server/backends/embedded-backend.js";
import { encodeLedgerName } from "../../src/util/ledger-name.js";
import { killAll, startServer, type ServerProcess } from "../sync/processes.js";
import { eventually, makeChain, post, TestSocket, wire } from "./harness.js";

let dir: string;

/** The JSON log records among the lines `kiln serve` wrote to stderr. */
function logRecords(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
let server: ServerProcess;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kiln-serve-hardening-"));
  // A directory where the log of ledger "jammed" belongs: every write to it fails (EISDIR).
  await mkdir(join(dir, "ledgers", logFileName(encodeLedgerName("jammed"))), {
    recursive: true,
  });
  server = await startServer([
    "--port",
    "0",
    "--storage",
    pathToFileURL(dir).href,
    "--max-connections-per-address",
    "3",
    "--ledger-quota",
    "8KiB",
    "--metrics-listen",
    "127.0.0.1:0",
  ]);
});

afterAll(async () => {
  await server?.stop();
  killAll();
  await rm(dir, { recursive: true, force: true });
});

describe("kiln serve, hardened", () => {
  it("logs a storage failure with the ledger, the file and the cause, and answers unavailable", async () => {
    const reply = await post(`${server.url}/kiln`, {
      t: "push",
      id: 1,
      ledger: "jammed",
      commits: wire(makeChain(1)),
    });
    expect(reply.status).toBe(503);
    expect(reply.messages[0]).toMatchObject({
      t: "error",
      reason: "unavailable",
    });
    // The log is JSON lines on stderr (not a terminal): one error record with the ledger,
    // the request it belongs to, and the cause chain down to the file system's error.
    const storageRecord = () =>
      logRecords(server.stderr()).find((r) => r.event === "storage");
    await eventually(() => storageRecord() !== undefined);
    const record = storageRecord()!;
    expect(record).toMatchObject({
      level: 50,
      ledger: "jammed",
      transport: "http",
    });
    expect(String(record.session)).toMatch(/^http-\d+$/);
    expect(String(record.msg)).toContain('of ledger "jammed"');
    const causes = JSON.stringify(record.err);
    expect(causes).toContain(join(dir, "ledgers"));
    expect(causes).toMatch(/EISDIR/);
    // Other ledgers are served meanwhile.
    const fine = await post(`${server.url}/kiln`, {
      t: "push",
      id: 2,
      ledger: "fine",
      commits: wire(makeChain(1)),
    });
    expect(fine.messages[0]).toMatchObject({ t: "ack", stored: 1 });
  });

  it("refuses a connection over --max-connections-per-address", async () => {
    const ws = `${server.url.replace("http:", "ws:")}/kiln`;
    const open: TestSocket[] = [];
    // Earlier requests' keep-alive connections count too: open until refused.
    let refused = false;
    try {
      for (let i = 0; i < 10 && !refused; i++)
        await TestSocket.hello(ws).then(
          (s) => open.push(s),
          () => (refused = true),
        );
      expect(refused).toBe(true);
      expect(open.length).toBeGreaterThanOrEqual(1);
      expect(open.length).toBeLessThanOrEqual(3);
    } finally {
      for (const s of open) await s.close();
    }
    // Freed again once they closed.
    await eventually(async () => {
      try {
        const s = await TestSocket.hello(ws);
        await s.close();
        return true;
      } catch {
        return false;
      }
    });
  });

  it("serves Prometheus metrics, liveness and readiness on --metrics-listen", async () => {
    const metricsUrl = /metrics on (http:\/\/[^\s,]+)\/metrics/.exec(
      server.banner,
    )?.[1];
    expect(metricsUrl).toBeDefined();
    const ok = await post(`${server.url}/kiln`, {
      t: "push",
      id: 3,
      ledger: "counted",
      commits: wire(makeChain(2)),
    });
    expect(ok.messages[0]).toMatchObject({ t: "ack", stored: 2 });
    await post(`${server.url}/kiln`, {
      t: "pull",
      id: 4,
      ledger: "*",
      have: [],
    });
    // A live subscriber over WebSocket and a held long-poll over HTTP both get a push.
    const ws = await TestSocket.hello(
      `${server.url.replace("http:", "ws:")}/kiln`,
    );
    const held = post(`${server.url}/kiln`, {
      t: "pull",
      id: 5,
      ledger: "fanned",
      have: [],
      wait: 10_000,
    });
    try {
      expect(
        await ws.request({
          t: "pull",
          id: 1,
          ledger: "fanned",
          have: [],
          live: true,
        }),
      ).toMatchObject([{ t: "heads" }]);
      const fanned = makeChain(1);
      // The long-poll is held before the push: wait until the server counts it.
      await eventually(async () =>
        /^kiln_http_polls [1-9]/m.test(
          await (await fetch(`${metricsUrl!}/metrics`)).text(),
        ),
      );
      await post(`${server.url}/kiln`, {
        t: "push",
        id: 6,
        ledger: "fanned",
        commits: wire(fanned),
      });
      expect(await ws.next()).toMatchObject({ t: "commits" });
      expect((await held).messages[0]).toMatchObject({ t: "commits" });
      const during = await (await fetch(`${metricsUrl!}/metrics`)).text();
      expect(during).toMatch(/^kiln_connections\{transport="ws"\} 1$/m);
      expect(during).toMatch(/^kiln_connections\{transport="http"\} \d+$/m);
      expect(during).toMatch(
        /^kiln_fanout_lag_seconds_count\{transport="ws"\} 1$/m,
      );
      expect(during).toMatch(
        /^kiln_fanout_lag_seconds_count\{transport="http"\} 1$/m,
      );
    } finally {
      await ws.close();
    }
    const text = await (await fetch(`${metricsUrl!}/metrics`)).text();
    expect(text).toMatch(/^kiln_pushes_total\{transport="http"\} [1-9]/m);
    expect(text).toMatch(
      /^kiln_commits_stored_total\{transport="http"\} [2-9]/m,
    );
    expect(text).toMatch(
      /^kiln_refusals_total\{transport="http",reason="bad-message"\} 1$/m,
    );
    expect(text).toMatch(
      /^kiln_storage_failures_total\{operation="[a-z ]+"\} [1-9]/m,
    );
    expect(text).toMatch(
      /^kiln_backend_seconds_count\{operation="put-commits",outcome="ok"\} [1-9]/m,
    );
    expect(text).toMatch(/^kiln_queued_bytes 0$/m);
    expect(text).toMatch(/^kiln_process_resident_memory_bytes \d+/m);
    expect((await fetch(`${metricsUrl!}/livez`)).status).toBe(200);
    expect((await fetch(`${metricsUrl!}/readyz`)).status).toBe(200);
  });
  it("refuses a push past --ledger-quota, storing nothing of it, until the ledger is deleted", async () => {
    const ledger = "capped";
    const chain = makeChain(2, [], 3000);
    const held = chain[0]!.bytes.length + chain[1]!.bytes.length;
    const first = await post(`${server.url}/kiln`, {
      t: "push",
      id: 1,
      ledger,
      commits: wire(chain),
    });
    expect(first.messages[0]).toMatchObject({ t: "ack", stored: 2 });
    const more = makeChain(1, [chain[1]!.cid], 3000);
    expect(held + more[0]!.bytes.length).toBeGreaterThan(8192);
    const over = await post(`${server.url}/kiln`, {
      t: "push",
      id: 2,
      ledger,
      commits: wire(more),
    });
    expect(over.status).toBe(413);
    expect(over.messages[0]).toMatchObject({
      t: "error",
      id: 2,
      reason: "over-quota",
    });
    const ws = await TestSocket.hello(
      `${server.url.replace("http:", "ws:")}/kiln`,
    );
    try {
      const refused = await ws.request({
        t: "push",
        id: 3,
        ledger,
        commits: wire(more),
      });
      expect(refused.at(-1)).toMatchObject({
        t: "error",
        reason: "over-quota",
      });
      // Nothing of it was stored: the heads and the commits are those of the first push.
      const pulled = await ws.request({ t: "pull", id: 4, ledger, have: [] });
      const sent = pulled.flatMap((m) =>
        m.t === "commits" ? m.commits.map(([cid]) => cid.toString()) : [],
      );
      expect(sent.sort()).toEqual(chain.map((c) => c.cid.toString()).sort());
      expect(pulled.at(-1)).toMatchObject({
        t: "heads",
        heads: [chain[1]!.cid],
      });
      // Deleting the ledger frees its quota: the same bytes fit again.
      expect(await ws.request({ t: "delete", id: 5, ledger })).toMatchObject([
        { t: "deleted", id: 5 },
      ]);
      expect(
        await ws.request({ t: "push", id: 6, ledger, commits: wire(chain) }),
      ).toMatchObject([{ t: "ack", stored: 2 }]);
    } finally {
      await ws.close();
    }
  });
});
