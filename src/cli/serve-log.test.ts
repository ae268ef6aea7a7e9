import { describe, expect, it } from "vitest";
import { IoError } from "../util/errors.js";
import { createServeLogger, logServerEvent } from "./serve-log.js";

const fsError = () =>
  Object.assign(new Error("EISDIR: illegal operation on a directory"), {
    code: "EISDIR",
    path: "/data/ledgers/jammed.log",
  });

function capture(format: "json" | "text", verbose = false) {
  const lines: string[] = [];
  const logger = createServeLogger({
    verbose,
    format,
    write: (l) => lines.push(l),
  });
  return { lines, logger };
}

describe("kiln serve log", () => {
  it("writes a storage failure as one JSON error record with its session and cause chain", () => {
    const { lines, logger } = capture("json");
    logServerEvent(logger, {
      kind: "storage",
      transport: "ws",
      operation: "store commits",
      ledger: "jammed",
      cause: new IoError("put commits of ledger jammed", { cause: fsError() }),
      session: "ws-7",
      remote: "127.0.0.1",
    });
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(record).toMatchObject({
      level: 50,
      event: "storage",
      ledger: "jammed",
      session: "ws-7",
      remote: "127.0.0.1",
      err: {
        code: "io",
        cause: { code: "EISDIR", path: "/data/ledgers/jammed.log" },
      },
    });
    expect(typeof record.time).toBe("string");
  });

  it("keeps connection and push records for --verbose", () => {
    const quiet = capture("json");
    logServerEvent(quiet.logger, {
      kind: "open",
      transport: "ws",
      session: "ws-1",
    });
    expect(quiet.lines).toEqual([]);
    const verbose = capture("json", true);
    logServerEvent(verbose.logger, {
      kind: "open",
      transport: "ws",
      session: "ws-1",
    });
    expect(JSON.parse(verbose.lines[0]!)).toMatchObject({
      level: 20,
      event: "open",
      session: "ws-1",
    });
  });

  it("writes one readable sentence a record on a terminal, with the session and every cause", () => {
    const { lines, logger } = capture("text", true);
    logServerEvent(logger, {
      kind: "push",
      transport: "http",
      ledger: "orders",
      stored: 3,
      session: "http-4",
    });
    logServerEvent(logger, {
      kind: "storage",
      transport: "http",
      operation: "store commits",
      ledger: "jammed",
      cause: new IoError("put commits of ledger jammed", { cause: fsError() }),
      session: "http-5",
    });
    expect(lines[0]).toBe(
      'kiln serve: stored 3 commits of "orders" over http [http-4]',
    );
    expect(lines[1]).toBe(
      'kiln serve: error: storage failed to store commits of ledger "jammed" (http request) [http-5]: put commits of ledger jammed: EISDIR: illegal operation on a directory (io): caused by EISDIR: illegal operation on a directory (EISDIR)',
    );
  });
});
