// The S3 blob store against a real S3-protocol server (s3rver), and against endpoints that
// refuse: a dead port, a server answering 503, wrong credentials.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createS3BlobStore,
  uploadHeaders,
} from "../../src/server/backends/s3-blob-store.js";
import { makeTestCommit } from "../../src/server/backends/test-commits.js";
import {
  S3_ACCESS_KEY,
  S3_SECRET_KEY,
  startS3Server,
  type S3TestServer,
} from "../fixtures/s3-server.js";

let s3: S3TestServer;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(() => s3?.dispose());

const storeAt = (
  endpoint: string,
  secretAccessKey = S3_SECRET_KEY,
  prefix = "blobs",
) =>
  createS3BlobStore({
    bucket: s3.bucket,
    prefix,
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey },
    timeoutMs: 5000,
  });

describe("s3 blob store", () => {
  it("puts, heads and gets a commit's bytes by ledger and CID, idempotently", async () => {
    const store = storeAt(s3.endpoint);
    const c = await makeTestCommit();
    expect(await store.has("a/b %2F", c.cid)).toBe(false);
    expect(await store.get("a/b %2F", c.cid)).toBeUndefined();
    await store.put("a/b %2F", c.cid, c.bytes);
    await store.put("a/b %2F", c.cid, c.bytes);
    expect(await store.has("a/b %2F", c.cid)).toBe(true);
    expect(await store.get("a/b %2F", c.cid)).toEqual(c.bytes);
    // Keys are per ledger: the same commit in another ledger is another object.
    expect(await store.has("a/b %2f", c.cid)).toBe(false);
  });

  it("gives a presigned URL a client can upload to without credentials", async () => {
    const store = storeAt(s3.endpoint, S3_SECRET_KEY, "");
    const c = await makeTestCommit([], 70_000);
    const url = await store.presignUpload!("uploads", c.cid, c.bytes.length);
    expect(url).toMatch(/X-Amz-Signature=/);
    expect(url).toMatch(/X-Amz-Expires=300&/);
    // The size and the SHA-256 are signed: the PUT must send them as they were signed.
    expect(new URL(url).searchParams.get("X-Amz-SignedHeaders")).toBe(
      "content-length;host;x-amz-checksum-sha256",
    );
    const unsigned = await fetch(url, {
      method: "PUT",
      body: new Uint8Array(c.bytes),
    });
    expect(unsigned.status).toBe(403);
    const response = await fetch(url, {
      method: "PUT",
      headers: uploadHeaders(c.cid, c.bytes.length),
      body: new Uint8Array(c.bytes),
    });
    expect(response.status).toBe(200);
    expect(await store.get("uploads", c.cid)).toEqual(c.bytes);
    // Reading back with a limit refuses a larger object without keeping it.
    await expect(
      store.get("uploads", c.cid, c.bytes.length - 1),
    ).rejects.toMatchObject({ reason: "too-large" });
  });

  it("rejects with unavailable when the endpoint refuses connections", async () => {
    const store = storeAt("http://127.0.0.1:1");
    const c = await makeTestCommit();
    await expect(store.put("l", c.cid, c.bytes)).rejects.toMatchObject({
      code: "protocol",
      reason: "unavailable",
    });
    await expect(store.get("l", c.cid)).rejects.toMatchObject({
      reason: "unavailable",
    });
  });

  it("rejects with unavailable when the endpoint answers 5xx", async () => {
    let requests = 0;
    const server = http.createServer((_req, res) => {
      requests++;
      res.writeHead(503).end("<Error><Code>SlowDown</Code></Error>");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as AddressInfo).port;
      const store = storeAt(`http://127.0.0.1:${port}`);
      const c = await makeTestCommit();
      const put = store.put("l", c.cid, c.bytes);
      await expect(put).rejects.toMatchObject({ reason: "unavailable" });
      await expect(put).rejects.toThrow(/HTTP 503 SlowDown/);
      expect(requests).toBe(3); // the request and two retries
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("rejects with an io error, not unavailable, when the credentials are wrong", async () => {
    const store = storeAt(s3.endpoint, "wrong");
    const c = await makeTestCommit();
    const put = store.put("l", c.cid, c.bytes);
    await expect(put).rejects.toMatchObject({ code: "io" });
    await expect(put).rejects.toThrow(/HTTP 403 SignatureDoesNotMatch/);
  });
});
