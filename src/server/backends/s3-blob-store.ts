// Commit bytes in an S3-compatible bucket (AWS S3, MinIO, R2, s3rver…), spoken over fetch with
// SigV4 signatures (aws4fetch). Objects are addressed path-style, `<endpoint>/<bucket>/<key>`,
// which every S3-compatible server accepts; keys come from blobKey().
import { AwsClient } from "aws4fetch";
import type { CID } from "../../blocks/cid.js";
import { ProtocolError } from "../../sync/protocol/error.js";
import { IoError } from "../../util/errors.js";
import { blobKey } from "./blob-store-key.js";
import type { BlobStore } from "./blob-store.js";
import type { S3Location } from "./postgres/postgres-url.js";

const SHA2_256 = 0x12;

export interface S3BlobStoreOptions extends S3Location {
  /** Time allowed for one request, retries included (default 30 s). */
  readonly timeoutMs?: number;
  /** How long a presigned upload URL stays valid (default 300 s). */
  readonly presignSeconds?: number;
  /**
   * Retries of a request answered 5xx or 429, with aws4fetch's jittered doubling from 50 ms
   * (default 2). Connection failures are not retried here: the client's outbox retries.
   */
  readonly retries?: number;
}

export function createS3BlobStore(options: S3BlobStoreOptions): BlobStore {
  const client = new AwsClient({
    accessKeyId: options.credentials.accessKeyId,
    secretAccessKey: options.credentials.secretAccessKey,
    ...(options.credentials.sessionToken !== undefined
      ? { sessionToken: options.credentials.sessionToken }
      : {}),
    // Named, not guessed from the host: a self-hosted endpoint's host says nothing.
    service: "s3",
    region: options.region,
    retries: options.retries ?? 2,
  });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const description = `bucket ${options.bucket} at ${options.endpoint}`;
  const urlOf = (ledger: string, cid: CID): string =>
    `${options.endpoint}/${encodeURIComponent(options.bucket)}/${blobKey(
      options.prefix,
      ledger,
      cid,
    )
      .split("/")
      .map(encodeURIComponent)
      .join("/")}`;

  const request = async (
    operation: string,
    url: string,
    init: RequestInit,
  ): Promise<Response> => {
    try {
      return await client.fetch(url, {
        ...init,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      // Refused, reset, unresolvable or timed out: the bucket may be back later.
      throw new ProtocolError(
        "unavailable",
        `${operation} in ${description}: ${describeCause(cause)}`,
        { cause },
      );
    }
  };

  return {
    description,

    async put(ledger, cid, bytes) {
      const operation = `store commit ${cid.toString()}`;
      const headers: Record<string, string> = {
        "content-type": "application/octet-stream",
      };
      // The CID's digest is the sha-256 of the bytes: given as the payload hash, it makes
      // the bucket check what it received against what the backend verified.
      if (cid.multihash.code === SHA2_256)
        headers["x-amz-content-sha256"] = hex(cid.multihash.digest);
      const response = await request(operation, urlOf(ledger, cid), {
        method: "PUT",
        headers,
        // A copy typed as fetch wants it (over a plain ArrayBuffer).
        body: new Uint8Array(bytes),
      });
      if (!response.ok) throw await failure(operation, response, description);
      await drain(response);
    },

    async delete(ledger, cid) {
      const operation = `delete commit ${cid.toString()}`;
      const response = await request(operation, urlOf(ledger, cid), {
        method: "DELETE",
      });
      // S3 answers 204 whether or not the object was there; some stores say 404.
      if (!response.ok && response.status !== 404)
        throw await failure(operation, response, description);
      await drain(response);
    },

    async get(ledger, cid, maxBytes = Infinity) {
      const operation = `read commit ${cid.toString()}`;
      const response = await request(operation, urlOf(ledger, cid), {
        method: "GET",
      });
      if (response.status === 404) {
        await drain(response);
        return undefined;
      }
      if (!response.ok) throw await failure(operation, response, description);
      const tooLarge = (size: number) =>
        new ProtocolError(
          "too-large",
          `${operation} in ${description}: the object has ${size} bytes, more than the limit of ${maxBytes}`,
        );
      const declared = Number(response.headers.get("content-length") ?? NaN);
      if (declared > maxBytes) {
        await response.body?.cancel();
        throw tooLarge(declared);
      }
      try {
        const bytes = new Uint8Array(await response.arrayBuffer());
        if (bytes.length > maxBytes) throw tooLarge(bytes.length);
        return bytes;
      } catch (cause) {
        if (cause instanceof ProtocolError) throw cause;
        throw new ProtocolError(
          "unavailable",
          `${operation} in ${description}: ${describeCause(cause)}`,
          { cause },
        );
      }
    },

    async has(ledger, cid) {
      const operation = `look up commit ${cid.toString()}`;
      const response = await request(operation, urlOf(ledger, cid), {
        method: "HEAD",
      });
      if (response.status === 404) return false;
      if (!response.ok) throw await failure(operation, response, description);
      return true;
    },

    async presignUpload(ledger, cid, size) {
      const url = new URL(urlOf(ledger, cid));
      url.searchParams.set(
        "X-Amz-Expires",
        String(options.presignSeconds ?? 300),
      );
      // Signed headers the uploader must send as they are: the size, and the SHA-256 the
      // CID names, which S3 checks against the body (so a signed URL takes only the commit's
      // own bytes). aws4fetch leaves content-length unsigned unless told to sign all headers.
      const signed = await client.sign(url.href, {
        method: "PUT",
        headers: uploadHeaders(cid, size),
        aws: { signQuery: true, allHeaders: true },
      });
      return signed.url;
    },
  };
}

/**
 * The headers a presigned upload of a commit is signed with, which the uploader sends with its
 * PUT: content-length and x-amz-checksum-sha256 (base64 of the SHA-256 digest the CID holds).
 * docs/protocol.md ("Direct uploads") fixes the same for any client.
 */
export function uploadHeaders(cid: CID, size: number): Record<string, string> {
  if (cid.multihash.code !== SHA2_256)
    throw new ProtocolError(
      "cid-mismatch",
      `${cid.toString()} is not a sha2-256 CID`,
    );
  return {
    "content-length": String(size),
    "x-amz-checksum-sha256": Buffer.from(cid.multihash.digest).toString(
      "base64",
    ),
  };
}

/** A refusal as a typed error: 5xx and 429 say "later", anything else is misconfiguration. */
async function failure(
  operation: string,
  response: Response,
  description: string,
): Promise<Error> {
  let code = "";
  try {
    const body = (await response.text()).slice(0, 2048);
    code = /<Code>([^<]{1,64})<\/Code>/.exec(body)?.[1] ?? "";
  } catch {
    // The status says enough.
  }
  const where = `${operation} in ${description}`;
  const status = `HTTP ${response.status}${code ? ` ${code}` : ""}`;
  return response.status >= 500 || response.status === 429
    ? new ProtocolError("unavailable", `${where}: ${status}`)
    : new IoError(where, { cause: new Error(status) });
}

/** Reads a body nobody needs, so the connection can be reused. */
async function drain(response: Response): Promise<void> {
  try {
    await response.arrayBuffer();
  } catch {
    // A body cut short changes nothing about the answer.
  }
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  // undici hides the reason (ECONNREFUSED…) in `cause`.
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : "";
  return `${cause.message}${inner}`;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString(
    "hex",
  );
}
