// The requests a SyncServer answers, over whichever wire carries them: each transport supplies
// `exchange` (send one message, feed each reply to `onReply` until it returns true), and these
// build the message and read the replies the same way for both.
import type { CID } from "multiformats/cid";
import { ProtocolError } from "./protocol/index.js";
import type {
  ClientMessage,
  ServerMessage,
  WireCommit,
} from "./protocol/index.js";
import type { PublishOptions, PullOptions, RemoteUploads } from "./remote.js";

export type Exchange = (
  message: ClientMessage,
  onReply: (reply: ServerMessage) => Promise<boolean>,
  options?: { waitMs?: number; signal?: AbortSignal },
) => Promise<void>;

export interface RequestContext {
  readonly exchange: Exchange;
  readonly ledger: string;
  readonly nextId: () => number;
}

function unexpected(reply: ServerMessage, request: string): never {
  throw new ProtocolError(
    "bad-message",
    `unexpected ${reply.t} in reply to ${request}`,
  );
}

export async function requestPull(
  ctx: RequestContext,
  have: readonly CID[],
  onBatch: (commits: readonly WireCommit[], total?: number) => Promise<void>,
  options: PullOptions,
): Promise<readonly CID[]> {
  const { onSnapshot } = options;
  let heads: readonly CID[] = [];
  let total: number | undefined;
  await ctx.exchange(
    {
      t: "pull",
      id: ctx.nextId(),
      ledger: ctx.ledger,
      have: [...have],
      ...(options.live ? { live: true } : {}),
      ...(options.wait ? { wait: options.wait } : {}),
      ...(onSnapshot ? { snapshot: true } : {}),
    },
    async (m) => {
      if (m.t === "snapshot" && onSnapshot) {
        const [cid, bytes] = m.snapshot;
        await onSnapshot({ cid, bytes });
        return false;
      }
      if (m.t === "commits") {
        total ??= m.total;
        await onBatch(toCommits(m.commits), total);
        return false;
      }
      if (m.t !== "heads") unexpected(m, "pull");
      heads = m.heads;
      return true;
    },
    {
      ...(options.wait ? { waitMs: options.wait } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
  return heads;
}

export async function requestPush(
  ctx: RequestContext,
  commits: readonly WireCommit[],
  heads: readonly CID[] | undefined,
  uploaded: readonly CID[] | undefined,
): Promise<readonly CID[]> {
  let after: readonly CID[] = [];
  await ctx.exchange(
    {
      t: "push",
      id: ctx.nextId(),
      ledger: ctx.ledger,
      commits: commits.map((c) => [c.cid, c.bytes] as [CID, Uint8Array]),
      ...(heads ? { heads: [...heads] } : {}),
      ...(uploaded?.length ? { uploaded: [...uploaded] } : {}),
    },
    (m) => {
      if (m.t !== "ack") unexpected(m, "push");
      after = m.heads;
      return Promise.resolve(true);
    },
  );
  return after;
}

/** Publishes a snapshot; resolves with the heads it covers (the ack's). */
export async function requestPublishSnapshot(
  ctx: RequestContext,
  snapshot: WireCommit,
  options: PublishOptions = {},
): Promise<readonly CID[]> {
  let covered: readonly CID[] = [];
  await ctx.exchange(
    {
      t: "publish",
      id: ctx.nextId(),
      ledger: ctx.ledger,
      snapshot: [snapshot.cid, snapshot.bytes],
      ...(options.retain ? { retain: options.retain } : {}),
    },
    (m) => {
      if (m.t !== "ack") unexpected(m, "publish");
      covered = m.heads;
      return Promise.resolve(true);
    },
  );
  return covered;
}

/** Direct uploads, when the server's welcome offered them (`uploadMin`). */
export function createRemoteUploads(
  ctx: RequestContext,
  minBytes: number,
): RemoteUploads {
  return {
    minBytes,
    async presign(commits) {
      let urls: string[] = [];
      await ctx.exchange(
        {
          t: "upload",
          id: ctx.nextId(),
          ledger: ctx.ledger,
          cids: commits.map((c) => c.cid),
          sizes: commits.map((c) => c.size),
        },
        (m) => {
          if (m.t !== "uploads") unexpected(m, "upload");
          urls = m.urls;
          return Promise.resolve(true);
        },
      );
      return urls;
    },
  };
}

export function toCommits(
  pairs: readonly (readonly [CID, Uint8Array])[],
): WireCommit[] {
  return pairs.map(([cid, bytes]) => ({ cid, bytes }));
}
