// Direct uploads, the client's half (docs/protocol.md, "Direct uploads"): when the remote's
// welcome offered them, the large commits of a push batch are PUT straight to the server's
// object store through presigned URLs and pushed by CID, so their bytes never cross the sync
// connection. It is only ever a shortcut: whatever fails on the way — the URLs, a PUT, the
// push by reference — the batch's remaining commits are pushed with their bytes as if direct
// uploads did not exist, so the outbox never loses or waits on a commit because of them.
import type { CID } from "multiformats/cid";
import { cidString } from "../blocks/cid.js";
import { toBase64url } from "../util/bytes.js";
import { KilnError } from "../util/errors.js";
import { MAX_CID_LIST, ProtocolError } from "./protocol/index.js";
import type { WireCommit } from "./protocol/index.js";
import type { Remote, RemoteUploads } from "./remote.js";
import { TransportError } from "./transport-error.js";

/** Time allowed for one PUT to the store. */
const PUT_TIMEOUT_MS = 60_000;
/** PUTs run at once. */
const PUTS = 4;

/** A direct upload of a commit that did not go through (the bytes are pushed instead). */
export class UploadError extends KilnError {
  constructor(
    readonly cid: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super("io", `upload commit ${cid}: ${detail}`, options);
  }
}

export interface DirectPusherOptions {
  /** Told why the direct path failed, before the bytes are pushed instead. */
  readonly onFallback: (error: Error) => void;
  /** Time allowed for one PUT (default 60 s). */
  readonly timeoutMs?: number;
  /** The fetch used for PUTs (default: the global one). */
  readonly fetch?: typeof fetch;
}

/** Pushes batches, their large commits by direct upload when the remote offers it. */
export class DirectPusher {
  readonly #options: DirectPusherOptions;
  /** Remotes whose direct path failed: the rest of their session pushes bytes. */
  readonly #failed = new WeakSet<Remote>();

  constructor(options: DirectPusherOptions) {
    this.#options = options;
  }

  /**
   * Pushes a batch (parents before children, sized for one push with all its bytes) and
   * resolves with the remote's heads after it, as `remote.push(batch, heads)` does.
   */
  async push(
    remote: Remote,
    batch: readonly WireCommit[],
    heads: readonly CID[] | undefined,
  ): Promise<readonly CID[]> {
    const uploads = remote.uploads;
    if (!uploads || this.#failed.has(remote)) return remote.push(batch, heads);
    const isLarge = (c: WireCommit) => c.bytes.length >= uploads.minBytes;
    const large = batch.filter(isLarge);
    // Every uploaded CID is also named in `heads` (below), which holds at most 4096.
    if (
      large.length === 0 ||
      large.length + (heads?.length ?? 0) > MAX_CID_LIST
    )
      return remote.push(batch, heads);
    let done = 0;
    try {
      await this.#upload(uploads, large);
      let after: readonly CID[] = [];
      for (const part of splitForPush(batch, isLarge)) {
        const uploaded = part.uploaded.map((c) => c.cid);
        const isLast = part.end === batch.length;
        // Naming the uploaded commits as heads too makes a server that ignores `uploaded`
        // (one that never offered it, behind the same balancer) refuse the push as
        // missing-commit instead of acknowledging commits it did not store.
        const named = [...(isLast && heads ? heads : []), ...uploaded];
        after = await remote.push(
          part.commits,
          named.length > 0 || (isLast && heads) ? named : undefined,
          uploaded,
        );
        done = part.end;
      }
      return after;
    } catch (error) {
      // The connection is gone: a push of the bytes could not go either; the session ends.
      if (error instanceof TransportError) throw error;
      this.#failed.add(remote);
      this.#options.onFallback(error as Error);
      return remote.push(batch.slice(done), heads);
    }
  }

  /** Gets presigned URLs for the commits and PUTs each one the remote does not hold. */
  async #upload(
    uploads: RemoteUploads,
    commits: readonly WireCommit[],
  ): Promise<void> {
    const urls = await uploads.presign(
      commits.map((c) => ({ cid: c.cid, size: c.bytes.length })),
    );
    if (urls.length !== commits.length)
      throw new ProtocolError(
        "bad-message",
        `uploads: ${urls.length} URLs for ${commits.length} commits`,
      );
    const todo = commits
      .map((commit, at) => ({ commit, url: urls[at]! }))
      .filter((u) => u.url !== "");
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < todo.length) {
        const { commit, url } = todo[next++]!;
        await this.#put(commit, url);
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(PUTS, todo.length) }, worker),
    );
  }

  async #put(commit: WireCommit, url: string): Promise<void> {
    const cid = cidString(commit.cid);
    const put = this.#options.fetch ?? fetch;
    let response: Response;
    try {
      response = await put(url, {
        method: "PUT",
        headers: {
          "content-type": "application/octet-stream",
          // Signed by the server: S3 checks the body against it (fetch sets the length).
          "x-amz-checksum-sha256": toBase64(commit.cid.multihash.digest),
        },
        body: commit.bytes as Uint8Array<ArrayBuffer>,
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? PUT_TIMEOUT_MS),
      });
    } catch (cause) {
      throw new UploadError(cid, `PUT failed: ${describe(cause)}`, { cause });
    }
    // The body is not needed; reading it lets the connection be reused.
    const text = await response.text().catch(() => "");
    if (!response.ok)
      throw new UploadError(
        cid,
        `PUT answered HTTP ${response.status}${errorCode(text)}`,
      );
  }
}

/**
 * Splits a batch into pushes of the shape the protocol allows — uploaded commits first,
 * then commits with bytes — keeping the batch's order: a new push starts whenever a large
 * commit follows a small one.
 */
export function splitForPush(
  batch: readonly WireCommit[],
  isLarge: (c: WireCommit) => boolean,
): { uploaded: WireCommit[]; commits: WireCommit[]; end: number }[] {
  const parts: {
    uploaded: WireCommit[];
    commits: WireCommit[];
    end: number;
  }[] = [];
  let part = { uploaded: [] as WireCommit[], commits: [] as WireCommit[] };
  batch.forEach((c, at) => {
    if (isLarge(c) && part.commits.length > 0) {
      parts.push({ ...part, end: at });
      part = { uploaded: [], commits: [] };
    }
    (isLarge(c) ? part.uploaded : part.commits).push(c);
  });
  if (part.uploaded.length + part.commits.length > 0)
    parts.push({ ...part, end: batch.length });
  return parts;
}

/** Standard base64 with padding, as the x-amz-checksum-sha256 header wants it. */
function toBase64(bytes: Uint8Array): string {
  const url = toBase64url(bytes).replaceAll("-", "+").replaceAll("_", "/");
  return url + "=".repeat((4 - (url.length % 4)) % 4);
}

/** The S3 error code of an XML error body, as " Code" (or nothing). */
function errorCode(body: string): string {
  const code = /<Code>([^<]{1,64})<\/Code>/.exec(body)?.[1];
  return code ? ` ${code}` : "";
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const inner = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${inner}`;
}
