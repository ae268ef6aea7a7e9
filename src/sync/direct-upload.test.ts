// The client's direct-upload path against a scripted Remote and fetch: which commits go by
// upload, how a batch is split into pushes, and that every failure but a lost connection ends
// in a push of the bytes.
import type { CID } from "multiformats/cid";
import { describe, expect, it } from "vitest";
import { cidFor } from "../blocks/cid.js";
import { nodeCrypto } from "../blocks/node-crypto.js";
import { DirectPusher, splitForPush } from "./direct-upload.js";
import { ProtocolError } from "./protocol/index.js";
import type { WireCommit } from "./protocol/index.js";
import type { Remote, RemoteUploads } from "./remote.js";
import { TransportError } from "./transport-error.js";

const commit = (size: number, tag: number): WireCommit => {
  const bytes = new Uint8Array(size).fill(tag);
  return { cid: cidFor(nodeCrypto, bytes), bytes };
};
const S1 = commit(10, 1);
const L1 = commit(100, 2);
const S2 = commit(10, 3);
const L2 = commit(100, 4);
const head = commit(1, 9).cid;

interface Call {
  commits: string[];
  heads: string[] | undefined;
  uploaded: string[];
}

/** A Remote that records pushes; `uploads` as given; `failPush` refuses pushes by reference. */
function fakeRemote(
  uploads: RemoteUploads | undefined,
  failPush?: Error,
): { remote: Remote; calls: Call[] } {
  const calls: Call[] = [];
  const names = (cids: readonly CID[]) => cids.map(String);
  const remote = {
    transport: "ws",
    limits: { maxMessage: 1 << 20, maxCommits: 100 },
    live: "push",
    onLive: undefined,
    ended: new Promise<Error>(() => undefined),
    uploads,
    pull: () => Promise.resolve([]),
    push(commits, heads, uploaded = []) {
      calls.push({
        commits: names(commits.map((c) => c.cid)),
        heads: heads && names(heads),
        uploaded: names(uploaded),
      });
      if (failPush && uploaded.length > 0) return Promise.reject(failPush);
      return Promise.resolve([head]);
    },
    close: () => Promise.resolve(),
  } satisfies Remote;
  return { remote, calls };
}

/** Presigns `url:<cid>` for every commit, except "" for those in `held`. */
function presigner(held: readonly WireCommit[] = []): RemoteUploads & {
  asked: { cid: string; size: number }[][];
} {
  const asked: { cid: string; size: number }[][] = [];
  return {
    minBytes: 50,
    asked,
    presign(commits) {
      asked.push(commits.map((c) => ({ cid: String(c.cid), size: c.size })));
      return Promise.resolve(
        commits.map((c) =>
          held.some((h) => h.cid.equals(c.cid))
            ? ""
            : `https://bucket/${c.cid.toString()}`,
        ),
      );
    },
  };
}

/** A fetch that records PUTs and answers `status`. */
function fakeFetch(status = 200) {
  const puts: { url: string; checksum: string | null; size: number }[] = [];
  const fetch = ((url: string, init: RequestInit) => {
    puts.push({
      url,
      checksum: new Headers(init.headers).get("x-amz-checksum-sha256"),
      size: (init.body as Uint8Array).length,
    });
    return Promise.resolve(
      new Response(status === 200 ? "" : "<Code>Nope</Code>", { status }),
    );
  }) as typeof globalThis.fetch;
  return { fetch, puts };
}

const str = (...c: WireCommit[]) => c.map((x) => String(x.cid));

describe("splitForPush", () => {
  it("puts uploaded commits first in each push and keeps the batch's order", () => {
    const parts = splitForPush(
      [S1, L1, S2, L2, S1],
      (c) => c.bytes.length > 50,
    );
    expect(
      parts.map((p) => ({
        uploaded: str(...p.uploaded),
        commits: str(...p.commits),
        end: p.end,
      })),
    ).toEqual([
      { uploaded: [], commits: str(S1), end: 1 },
      { uploaded: str(L1), commits: str(S2), end: 3 },
      { uploaded: str(L2), commits: str(S1), end: 5 },
    ]);
  });
});

describe("DirectPusher", () => {
  it("pushes as before when the remote offers no uploads or nothing is large", async () => {
    for (const [uploads, batch] of [
      [undefined, [S1, L1]],
      [presigner(), [S1, S2]],
    ] as const) {
      const { remote, calls } = fakeRemote(uploads);
      const pusher = new DirectPusher({ onFallback: () => undefined });
      expect(await pusher.push(remote, batch, [head])).toEqual([head]);
      expect(calls).toEqual([
        { commits: str(...batch), heads: [String(head)], uploaded: [] },
      ]);
    }
  });

  it("uploads large commits with their checksum and pushes them by CID, naming them as heads", async () => {
    const uploads = presigner([L2]);
    const { remote, calls } = fakeRemote(uploads);
    const { fetch, puts } = fakeFetch();
    const fallbacks: Error[] = [];
    const pusher = new DirectPusher({
      onFallback: (e) => fallbacks.push(e),
      fetch,
    });
    await pusher.push(remote, [S1, L1, L2, S2], [head]);
    expect(uploads.asked).toEqual([
      [
        { cid: String(L1.cid), size: 100 },
        { cid: String(L2.cid), size: 100 },
      ],
    ]);
    // L2 is held already: no PUT, but named all the same.
    expect(puts).toEqual([
      {
        url: `https://bucket/${L1.cid.toString()}`,
        checksum: Buffer.from(L1.cid.multihash.digest).toString("base64"),
        size: 100,
      },
    ]);
    expect(calls).toEqual([
      { commits: str(S1), heads: undefined, uploaded: [] },
      {
        commits: str(S2),
        heads: [String(head), ...str(L1, L2)],
        uploaded: str(L1, L2),
      },
    ]);
    expect(fallbacks).toEqual([]);
  });

  it("falls back to the bytes of what is left on any failure, and stops trying for that remote", async () => {
    for (const [what, fetchStatus, failPush, expected] of [
      // Uploads come before any push: the whole batch goes with its bytes.
      ["a refused PUT", 403, undefined, [str(S1, L1, S2)]],
      // S1 was acknowledged before the push naming L1 was refused: the rest goes.
      [
        "a refused push by reference",
        200,
        new ProtocolError("cid-mismatch", "bytes do not hash"),
        [str(S1), str(S2), str(L1, S2)],
      ],
    ] as const) {
      const { remote, calls } = fakeRemote(presigner(), failPush);
      const fallbacks: Error[] = [];
      const pusher = new DirectPusher({
        onFallback: (e) => fallbacks.push(e),
        fetch: fakeFetch(fetchStatus).fetch,
      });
      expect(await pusher.push(remote, [S1, L1, S2], [head])).toEqual([head]);
      expect(fallbacks, what).toHaveLength(1);
      expect(
        calls.map((c) => c.commits),
        what,
      ).toEqual(expected);
      expect(calls.at(-1), what).toEqual({
        commits: expected.at(-1),
        heads: [String(head)],
        uploaded: [],
      });
      calls.length = 0;
      await pusher.push(remote, [L2], [head]);
      expect(calls, what).toEqual([
        { commits: str(L2), heads: [String(head)], uploaded: [] },
      ]);
      expect(fallbacks, what).toHaveLength(1);
    }
  });

  it("does not fall back when the connection itself is gone", async () => {
    const lost = new TransportError("ws", "socket closed (1006)");
    const { remote, calls } = fakeRemote(presigner(), lost);
    const pusher = new DirectPusher({
      onFallback: () => undefined,
      fetch: fakeFetch().fetch,
    });
    await expect(pusher.push(remote, [L1], [head])).rejects.toBe(lost);
    expect(calls).toHaveLength(1);
  });
});
