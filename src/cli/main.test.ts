import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { tsxLoader } from "../../test/fixtures/tsx-loader.js";
import { cidFor } from "../blocks/cid.js";
import { encodeEnvelope } from "../blocks/envelope.js";
import { nodeCrypto } from "../blocks/node-crypto.js";
import { verifyToken } from "../server/index.js";
import {
  CONTENT_TYPE,
  decodeServerMessage,
  encodeMessage,
  FrameReader,
  type ClientMessage,
  type ServerMessage,
} from "../sync/protocol/index.js";
import { main } from "./main.js";

async function run(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    env,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out, err };
}

describe("kiln cli", () => {
  it("puts, gets, lists, deletes and prints the key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kiln-cli-"));
    try {
      const env = { KILN_STORAGE: pathToFileURL(dir).href };
      expect(
        (await run(["put", "orders", '{"_id":"o1","amount":42}'], env)).out,
      ).toEqual(["o1"]);
      expect((await run(["put", "orders", '{"amount":7}'], env)).code).toBe(0);
      expect((await run(["get", "orders", "o1"], env)).out).toEqual([
        '{"_id":"o1","amount":42}',
      ]);
      expect((await run(["ls", "orders", "--prefix", "o"], env)).out).toEqual([
        '{"_id":"o1","amount":42}',
      ]);
      expect((await run(["ls", "orders"], env)).out).toHaveLength(2);
      expect((await run(["key", "orders"], env)).out[0]).toMatch(
        /^[A-Za-z0-9_-]{43}$/,
      );
      const whoami = await run(["whoami"], env);
      expect(whoami.out[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect((await run(["whoami"], env)).out).toEqual(whoami.out);
      expect((await run(["whoami", "extra"], env)).code).toBe(2);
      expect((await run(["del", "orders", "o1"], env)).code).toBe(0);
      const missing = await run(["get", "orders", "o1"], env);
      expect(missing.code).toBe(1);
      expect(missing.err[0]).toContain("not-found");
      expect((await run(["put", "orders", "{not json"], env)).code).toBe(2);
      expect((await run(["get", "orders"], env)).code).toBe(2);
      expect((await run(["--help"], env)).code).toBe(0);
      expect(
        (await run(["ls", "orders", "--storage", "nope://x"], env)).err[0],
      ).toContain("invalid-url");
      // A base64url key may begin with "-" (first six bits 62): still read as the value.
      const bytes = new Uint8Array(32).fill(7);
      bytes[0] = 0xf8;
      const dashed = Buffer.from(bytes).toString("base64url");
      expect(dashed.startsWith("-")).toBe(true);
      const put = await run(
        ["put", "dashed", '{"_id":"d1"}', "--key", dashed],
        env,
      );
      expect(put.err).toEqual([]);
      expect((await run(["key", "dashed"], env)).out).toEqual([dashed]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("kiln token", () => {
  const env = { KILN_SECRET: "a-cli-test-secret-long-enough" };

  it("prints a token the server's secret verifies", async () => {
    const plain = await run(["token", "--ledger", "orders"], env);
    expect(plain.code).toBe(0);
    expect(verifyToken(env.KILN_SECRET, plain.out[0]!, Date.now())).toEqual({
      ledgers: ["orders"],
      write: false,
      id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) as unknown,
    });
    const full = await run(
      [
        "token",
        "--ledger",
        "a",
        "--ledger",
        "b",
        "--write",
        "--expires",
        "30d",
      ],
      env,
    );
    const grant = verifyToken(env.KILN_SECRET, full.out[0]!, Date.now());
    expect(grant).toMatchObject({ ledgers: ["a", "b"], write: true });
    expect(grant.expiresAt! - Date.now() / 1000).toBeCloseTo(30 * 86_400, -1);
  });

  it("refuses without a secret, a ledger or a valid duration", async () => {
    const none = await run(["token", "--ledger", "orders"]);
    expect(none.code).toBe(2);
    expect(none.err[0]).toContain("KILN_SECRET");
    expect((await run(["token"], env)).code).toBe(2);
    expect(
      (await run(["token", "--ledger", "x", "--expires", "soon"], env)).code,
    ).toBe(2);
    expect(
      (await run(["token", "--ledger", "x", "--secret", "short"])).err[0],
    ).toContain("16");
  });
});

describe("kiln serve", () => {
  it("refuses a non-loopback host without a secret", async () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "example.com"]) {
      const result = await run([
        "serve",
        "--host",
        host,
        "--storage",
        "memory://",
      ]);
      expect(result.code, host).toBe(2);
      expect(result.err[0]).toContain("without a secret");
    }
  });

  it("refuses storage it cannot serve from", async () => {
    const result = await run(["serve", "--port", "0", "--storage", "s3://b"]);
    expect(result.code).toBe(2);
    expect(result.err[0]).toContain("invalid-url");
  });

  it("serves a file-backed ledger until stopped, and keeps it across restarts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kiln-serve-"));
    try {
      const storage = pathToFileURL(dir).href;
      const commit = sealedCommit();
      const first = await serveUntil(storage, async (url) => {
        const ack = await postMessage(url, {
          t: "push",
          id: 1,
          ledger: "orders",
          commits: [[commit.cid, commit.bytes]],
        });
        expect(ack[0]).toMatchObject({ t: "ack", stored: 1 });
      });
      expect(first.code).toBe(0);
      expect(first.out[0]).toMatch(
        /^kiln serve: listening on http:\/\/127\.0\.0\.1:\d+ \(ws \+ http\), storage file:.*, auth off/,
      );
      const second = await serveUntil(storage, async (url) => {
        const pulled = await postMessage(url, {
          t: "pull",
          id: 2,
          ledger: "orders",
          have: [],
        });
        expect(pulled.map((m) => m.t)).toEqual(["commits", "heads"]);
      });
      expect(second.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("closes gracefully on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        tsxLoader,
        "--input-type=module",
        "-e",
        `import { main } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, "main.ts")).href)};
         process.exitCode = await main(process.argv.slice(1), process.env);`,
        "serve",
        "--port",
        "0",
        "--storage",
        "memory://",
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, KILN_SECRET: "" },
      },
    );
    try {
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        let text = "";
        child.stdout.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          const match = /listening on (\S+)/.exec(text);
          if (match) resolve(match[1]!);
        });
        child.once("exit", (code) =>
          reject(new Error(`exited ${code}: ${stderr}`)),
        );
      });
      expect((await fetch(url)).status).toBe(200);
      const exited = new Promise<number | null>((resolve) =>
        child.once("exit", (code) => resolve(code)),
      );
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

/** Runs `kiln serve` on a free port with `storage`, calls `use(url)`, then stops it. */
async function serveUntil(
  storage: string,
  use: (url: string) => Promise<void>,
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const stop = new AbortController();
  let listening!: (url: string) => void;
  const url = new Promise<string>((resolve) => (listening = resolve));
  const code = main(
    ["serve", "--port", "0", "--storage", storage],
    {},
    (line) => {
      out.push(line);
      const match = /listening on (\S+)/.exec(line);
      if (match) listening(match[1]!);
    },
    (line) => err.push(line),
    stop.signal,
  );
  try {
    await Promise.race([
      url.then(use),
      code.then(() => Promise.reject(new Error(err.join("\n")))),
    ]);
  } finally {
    stop.abort();
  }
  return { code: await code, out, err };
}

async function postMessage(
  url: string,
  message: ClientMessage,
): Promise<ServerMessage[]> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": CONTENT_TYPE },
    body: encodeMessage(message) as Uint8Array<ArrayBuffer>,
  });
  const reader = new FrameReader(1 << 24);
  return reader
    .push(new Uint8Array(await response.arrayBuffer()))
    .map((frame) => decodeServerMessage(frame, 1 << 24));
}

function sealedCommit() {
  const bytes = encodeEnvelope({
    v: 2,
    parents: [],
    iv: nodeCrypto.randomBytes(12),
    data: nodeCrypto.randomBytes(64),
    // Signed in form only: a blind store checks a commit names its writer and signature.
    w: new Uint8Array(32),
    s: new Uint8Array(64),
  });
  return { cid: cidFor(nodeCrypto, bytes), bytes };
}
