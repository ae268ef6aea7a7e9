// Direct uploads end to end, on the scale-out backend: a SyncServer over Postgres with commit
// bytes in a real S3-protocol bucket (s3rver) that offers them, Kiln clients that use them,
// and a raw protocol client that tampers with an upload. Between the bucket and everyone else
// sits a small proxy that counts PUTs and, when asked, flips a byte of presigned ones (s3rver
// does not check x-amz-checksum-sha256, so the server's own check is what is tested).
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { CID } from "multiformats/cid";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openLedger } from "../../src/index.js";
import type { Connection, Ledger } from "../../src/index.js";
import type { Backend } from "../../src/server/backend.js";
import { blobKey } from "../../src/server/backends/blob-store-key.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { openPostgresBackend } from "../../src/server/backends/postgres/postgres-backend.js";
import {
  createS3BlobStore,
  uploadHeaders,
} from "../../src/server/backends/s3-blob-store.js";
import { makeTestCommit } from "../../src/server/backends/test-commits.js";
import { createSyncServer } from "../../src/server/index.js";
import type { ServerEvent, SyncServer } from "../../src/server/index.js";
import {
  CONTENT_TYPE,
  FrameReader,
  decodeServerMessage,
  encodeMessage,
} from "../../src/sync/protocol/index.js";
import type {
  ClientMessage,
  ServerMessage,
} from "../../src/sync/protocol/index.js";
import {
  dropSchema,
  freshSchema,
  postgresUrl,
  requirePostgres,
} from "../fixtures/postgres.js";
import {
  S3_ACCESS_KEY,
  S3_SECRET_KEY,
  startS3Server,
  type S3TestServer,
} from "../fixtures/s3-server.js";

const schema = freshSchema("upload");
const PREFIX = "direct";
/** Commits of at least this many bytes go to the bucket directly in these tests. */
const UPLOAD_MIN = 50_000;
const FAST = { backoff: { baseMs: 10, maxMs: 100 }, pollWaitMs: 2_000 };

let s3: S3TestServer;
let proxy: BucketProxy;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  s3 = await startS3Server();
  proxy = await startBucketProxy(s3.endpoint);
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  proxy.tamper = false;
  proxy.puts.length = 0;
});
afterAll(async () => {
  await proxy?.close();
  await s3?.dispose();
  await dropSchema(schema);
});

const bucketParams = (extra: Record<string, string> = {}) => ({
  blobs: `s3://${s3.bucket}/${PREFIX}`,
  "s3-endpoint": proxy.endpoint,
  "s3-access-key": S3_ACCESS_KEY,
  "s3-secret-key": S3_SECRET_KEY,
  ...extra,
});

async function openBackend(
  params: Record<string, string> = bucketParams({
    "s3-direct-upload": String(UPLOAD_MIN),
  }),
): Promise<Backend> {
  await requirePostgres();
  const backend = await openPostgresBackend(postgresUrl(schema, params));
  cleanup.push(() => backend.close());
  return backend;
}

async function serve(backend: Backend): Promise<{
  server: SyncServer;
  url: string;
  events: ServerEvent[];
}> {
  const events: ServerEvent[] = [];
  const server = createSyncServer({ backend, log: (e) => events.push(e) });
  const listener = await server.listen({ port: 0 });
  cleanup.push(() => server.close());
  return { server, url: listener.url.replace(/\/$/, ""), events };
}

async function ledgers(name: string): Promise<[Ledger, Ledger]> {
  const a = await openLedger(name, { storage: "memory://" });
  const b = await openLedger(name, { storage: "memory://", key: a.key });
  cleanup.push(
    () => a.close(),
    () => b.close(),
  );
  return [a, b];
}

/** The connection's `error` events, as they come. */
function errorsOf(c: Connection): Error[] {
  const errors: Error[] = [];
  c.on("error", (e) => errors.push(e));
  return errors;
}

/** A doc whose commit is well over UPLOAD_MIN bytes whatever compression does. */
const bigDoc = (id: string) => ({
  _id: id,
  blob: randomBytes(150_000).toString("base64"),
});

/** One message POSTed to the server's HTTP transport: status and answers. */
async function post(
  server: SyncServer,
  message: ClientMessage,
): Promise<{ status: number; messages: ServerMessage[] }> {
  const response = await server.fetch(
    new Request("http://127.0.0.1/kiln", {
      method: "POST",
      headers: { "content-type": CONTENT_TYPE },
      body: encodeMessage(message) as Uint8Array<ArrayBuffer>,
    }),
  );
  const reader = new FrameReader(64 << 20);
  const frames = reader.push(new Uint8Array(await response.arrayBuffer()));
  reader.end();
  return {
    status: response.status,
    messages: frames.map((f) => decodeServerMessage(f, 64 << 20)),
  };
}

describe("direct uploads on postgres with an s3 bucket", () => {
  it("a large commit goes from the client straight to the bucket, never through the server, and another client reads it", async () => {
    const backend = await openBackend();
    const { server, url, events } = await serve(backend);
    const ledger = `orders-${crypto.randomUUID()}`;
    const [a, b] = await ledgers(ledger);
    // Small, large, small: one batch, pushed as [small] then [large by reference, small].
    await a.put({ _id: "before", n: 1 });
    const big = bigDoc("big");
    await a.put(big);
    await a.put({ _id: "after", n: 2 });
    const ca = a.connect(`${url}?transport=ws`, FAST);
    const errors = errorsOf(ca);
    await ca.synced();

    // One presigned PUT, by the client, to the large commit's own key; the server PUT
    // nothing there itself, and recorded the commit.
    const presigned = proxy.puts.filter((p) => p.presigned);
    expect(presigned).toHaveLength(1);
    const large = cidInPath(presigned[0]!.path);
    expect(presigned[0]!.path).toBe(
      `/${s3.bucket}/${blobKey(PREFIX, ledger, large)}`,
    );
    expect(
      proxy.puts.filter((p) => p.path === presigned[0]!.path),
    ).toHaveLength(1);
    const [meta] = await backend.getMeta(ledger, [large]);
    expect(meta).toBeDefined();
    const inBucket = await bucketBytes(ledger, large);
    expect(matches(large, inBucket!)).toBe(true);
    expect(inBucket!.length).toBeGreaterThan(100_000);
    // The commit's bytes never reached the server's transports: everything the client sent
    // it, all messages together, is smaller than that one commit.
    expect(server.stats().bytesReceived).toBeLessThan(inBucket!.length);
    expect(events).toContainEqual(
      expect.objectContaining({ kind: "push", ledger, uploaded: 1 }),
    );
    expect(errors).toEqual([]);

    // Another client, over HTTP, pulls it like any commit.
    const cb = b.connect(`${url}?transport=http`, FAST);
    await cb.synced();
    expect(await b.get("big")).toEqual(big);
    expect((await b.allDocs()).rows.map((r) => r.id)).toEqual([
      "after",
      "before",
      "big",
    ]);
  });

  it("refuses a tampered upload as cid-mismatch and stores nothing; the right bytes are then accepted", async () => {
    const backend = await openBackend();
    const { server, events } = await serve(backend);
    const ledger = `raw-${crypto.randomUUID()}`;
    const hello = await post(server, { t: "hello", id: 1, v: [2] });
    expect(hello.messages[0]).toMatchObject({
      t: "welcome",
      uploadMin: UPLOAD_MIN,
    });

    const c = await makeTestCommit([], 70_000);
    const size = c.bytes.length;
    const asked = await post(server, {
      t: "upload",
      id: 2,
      ledger,
      cids: [c.cid],
      sizes: [size],
    });
    expect(asked.status).toBe(200);
    const answer = asked.messages[0]!;
    if (answer.t !== "uploads") throw new Error(`got ${answer.t}`);
    const url = answer.urls[0]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.*X-Amz-Expires=300/);

    // Different bytes of the same size: s3rver takes them (it checks the signature, not
    // the checksum), so only the server's read-back can catch them.
    const tampered = new Uint8Array(c.bytes);
    tampered[size - 1]! ^= 0xff;
    const put = await fetch(url, {
      method: "PUT",
      headers: uploadHeaders(c.cid, size),
      body: tampered,
    });
    expect(put.status).toBe(200);
    const refused = await post(server, {
      t: "push",
      id: 3,
      ledger,
      commits: [],
      heads: [c.cid],
      uploaded: [c.cid],
    });
    expect(refused.status).toBe(422);
    expect(refused.messages[0]).toMatchObject({
      t: "error",
      id: 3,
      reason: "cid-mismatch",
    });
    expect(await backend.getHeads(ledger)).toEqual([]);
    expect(await backend.getMeta(ledger, [c.cid])).toEqual([undefined]);

    // A commit named as uploaded that never was: missing-commit, nothing stored.
    const never = await makeTestCommit([c.cid], 60_000);
    const missing = await post(server, {
      t: "push",
      id: 4,
      ledger,
      commits: [[c.cid, c.bytes]],
      uploaded: [never.cid],
    });
    expect(missing.messages[0]).toMatchObject({ reason: "missing-commit" });
    expect(await backend.getHeads(ledger)).toEqual([]);

    // The right bytes to the same URL, and the same push, are accepted.
    const good = await fetch(url, {
      method: "PUT",
      headers: uploadHeaders(c.cid, size),
      body: new Uint8Array(c.bytes),
    });
    expect(good.status).toBe(200);
    const accepted = await post(server, {
      t: "push",
      id: 5,
      ledger,
      commits: [],
      heads: [c.cid],
      uploaded: [c.cid],
    });
    expect(accepted.messages[0]).toMatchObject({ t: "ack", stored: 1 });
    expect((await backend.getHeads(ledger)).map(String)).toEqual([
      c.cid.toString(),
    ]);
    expect(await backend.getCommits(ledger, [c.cid])).toEqual([c.bytes]);
    expect(events).toContainEqual(
      expect.objectContaining({ kind: "push", ledger, stored: 1, uploaded: 1 }),
    );
    // A held commit gets no URL: nobody can replace its object through the server.
    const again = await post(server, {
      t: "upload",
      id: 6,
      ledger,
      cids: [c.cid],
      sizes: [size],
    });
    expect(again.messages[0]).toMatchObject({ t: "uploads", urls: [""] });
    // Sizes a push could not carry are refused before anything is signed.
    const huge = await post(server, {
      t: "upload",
      id: 7,
      ledger,
      cids: [never.cid],
      sizes: [64 << 20],
    });
    expect(huge.messages[0]).toMatchObject({ reason: "too-large" });
  });

  it("a client whose upload is tampered with falls back to pushing the bytes, and both clients converge", async () => {
    const backend = await openBackend();
    const { url, events } = await serve(backend);
    const ledger = `fallback-${crypto.randomUUID()}`;
    const [a, b] = await ledgers(ledger);
    proxy.tamper = true;
    const big = bigDoc("big");
    await a.put(big);
    const ca = a.connect(`${url}?transport=ws`, FAST);
    const errors = errorsOf(ca);
    await ca.synced();
    expect(ca.pending).toBe(0);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/^cid-mismatch: the bytes uploaded for commit/),
    ]);
    expect(proxy.puts.filter((p) => p.presigned)).toHaveLength(1);
    // The push that stored it carried the bytes (nothing read from an upload).
    const stored = events.filter((e) => e.kind === "push" && e.stored > 0);
    expect(stored).toHaveLength(1);
    expect(stored[0]).not.toHaveProperty("uploaded");
    // Later writes of the session push bytes too; the session stayed up throughout.
    await a.put(bigDoc("big2"));
    await ca.synced();
    expect(proxy.puts.filter((p) => p.presigned)).toHaveLength(1);
    expect(ca.status).toEqual({ kind: "live", transport: "ws" });

    const cb = b.connect(`${url}?transport=ws`, FAST);
    await cb.synced();
    expect(await b.get("big")).toEqual(big);
    expect([...b.clock].sort()).toEqual([...a.clock].sort());
    // The bucket holds the right bytes: the fallback push's own upload replaced the bad ones.
    const large = cidInPath(proxy.puts.find((p) => p.presigned)!.path);
    expect(matches(large, (await bucketBytes(ledger, large))!)).toBe(true);
  });
});

describe("servers that do not offer direct uploads", () => {
  it("postgres without the parameter, or without a bucket, and memory say nothing of them and refuse their messages", async () => {
    const backends = [
      await openBackend(bucketParams()),
      await openBackend({}),
      createMemoryBackend(),
    ];
    for (const backend of backends) {
      expect(backend.uploads).toBeUndefined();
      const { server } = await serve(backend);
      const hello = await post(server, { t: "hello", id: 1, v: [2] });
      expect(hello.messages[0]).not.toHaveProperty("uploadMin");
      const c = await makeTestCommit([], 2_000);
      const upload = await post(server, {
        t: "upload",
        id: 2,
        ledger: "o",
        cids: [c.cid],
        sizes: [c.bytes.length],
      });
      expect(upload.status).toBe(400);
      expect(upload.messages[0]).toMatchObject({ reason: "unknown-type" });
      const push = await post(server, {
        t: "push",
        id: 3,
        ledger: "o",
        commits: [],
        uploaded: [c.cid],
      });
      expect(push.messages[0]).toMatchObject({ reason: "bad-message" });
    }
    await backends[2]!.close();
  });

  it("a Kiln client syncs large commits with such a server as before, over both transports", async () => {
    const { server, url } = await serve(await openBackend(bucketParams()));
    const [a, b] = await ledgers(`plain-${crypto.randomUUID()}`);
    const big = bigDoc("big");
    await a.put(big);
    const ca = a.connect(`${url}?transport=http`, FAST);
    const errors = errorsOf(ca);
    await ca.synced();
    expect(server.stats().bytesReceived).toBeGreaterThan(100_000);
    await b.connect(`${url}?transport=ws`, FAST).synced();
    expect(await b.get("big")).toEqual(big);
    expect(errors).toEqual([]);
    expect(proxy.puts.filter((p) => p.presigned)).toEqual([]);
  });
});

/** The CID an object path ends with. */
function cidInPath(path: string): CID {
  return CID.parse(decodeURIComponent(path.split("/").at(-1)!));
}

/** What the bucket itself holds for a commit (not the backend's cache). */
function bucketBytes(
  ledger: string,
  cid: CID,
): Promise<Uint8Array | undefined> {
  return createS3BlobStore({
    bucket: s3.bucket,
    prefix: PREFIX,
    endpoint: s3.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
  }).get(ledger, cid);
}

function matches(cid: CID, bytes: Uint8Array): boolean {
  const digest = createHash("sha256").update(bytes).digest();
  return Buffer.compare(digest, cid.multihash.digest) === 0;
}

interface BucketProxy {
  readonly endpoint: string;
  /** Flip the last byte of every presigned PUT's body (same size: the signature holds). */
  tamper: boolean;
  /** Every PUT seen: its path, and whether it was presigned (a client's) or not (the server's). */
  readonly puts: { path: string; presigned: boolean }[];
  close(): Promise<void>;
}

/** A pass-through HTTP proxy in front of the bucket, keeping the Host header (it is signed). */
async function startBucketProxy(target: string): Promise<BucketProxy> {
  const upstream = new URL(target);
  const proxy: BucketProxy = {
    endpoint: "",
    tamper: false,
    puts: [],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body = Buffer.concat(chunks);
      const url = new URL(req.url ?? "/", "http://proxy");
      const presigned = url.searchParams.has("X-Amz-Signature");
      if (req.method === "PUT") {
        proxy.puts.push({ path: url.pathname, presigned });
        if (proxy.tamper && presigned && body.length > 0) {
          body = Buffer.from(body);
          body[body.length - 1]! ^= 0xff;
        }
      }
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on("error", () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  Object.assign(proxy, { endpoint: `http://127.0.0.1:${port}` });
  return proxy;
}
