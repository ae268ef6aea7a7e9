// One ledger's channel on a socket shared with the other ledgers of the process that sync
// with the same server (ws-pool.ts): one session's Remote. It ends alone when closed or when
// the server ends its ledger's subscription, and with the socket when the socket ends.
import { createDeferred } from "../util/deferred.js";
import type { LiveEvent, Remote, RemoteUploads } from "./remote.js";
import {
  createRemoteUploads,
  requestPublishSnapshot,
  requestPull,
  requestPush,
} from "./remote-requests.js";
import type { RequestContext } from "./remote-requests.js";
import { TransportError } from "./transport-error.js";
import type { WsSocket } from "./ws-socket.js";

/** One ledger's channel on a shared socket, as the pool sees it. */
export interface WsChannel extends Remote {
  readonly ledger: string;
  /** The socket's news for this channel's ledger. */
  deliver(event: LiveEvent): void;
  /** Ends this channel alone (its ledger's subscription ended) or with the socket. */
  end(error: Error): void;
}

/** A channel for `ledger` on `socket`; `detach` takes it off the socket when it closes. */
export function createWsChannel(
  socket: WsSocket,
  ledger: string,
  shownUrl: string,
  siblings: () => Iterable<WsChannel>,
  detach: (channel: WsChannel) => void,
): WsChannel {
  const ended = createDeferred<Error>();
  let isEnded = false;
  let uploads: { min: number; uploads: RemoteUploads } | undefined;
  const ctx: RequestContext = {
    exchange: (message, onReply, options) => {
      if (isEnded)
        return Promise.reject(
          new TransportError("ws", `${shownUrl}: the session is closed`),
        );
      return socket.exchange(message, onReply, options);
    },
    ledger,
    nextId: () => socket.nextId(),
  };
  const channel: WsChannel = {
    ledger,
    transport: "ws",
    get limits() {
      const w = socket.welcome;
      return { maxMessage: w.maxMessage, maxCommits: w.maxCommits };
    },
    get uploads() {
      const min = socket.welcome.uploadMin;
      if (min === undefined) return undefined;
      if (uploads?.min !== min)
        uploads = { min, uploads: createRemoteUploads(ctx, min) };
      return uploads.uploads;
    },
    live: "push",
    onLive: undefined,
    ended: ended.promise,

    pull: (have, onBatch, pullOptions = {}) =>
      requestPull(ctx, have, onBatch, pullOptions),

    async push(commits, heads, uploaded) {
      const after = await requestPush(ctx, commits, heads, uploaded);
      // The server sends a push to every subscribed socket but the one it came on: other
      // ledgers of this process on this socket with the same name hear of it from here.
      for (const sibling of siblings())
        if (sibling !== channel && sibling.ledger === ledger)
          sibling.deliver({ commits, heads: after });
      return after;
    },

    publishSnapshot: (snapshot, options) =>
      requestPublishSnapshot(ctx, snapshot, options),

    deliver(event) {
      if (!isEnded) channel.onLive?.(event);
    },

    end(error) {
      if (isEnded) return;
      isEnded = true;
      detach(channel);
      ended.resolve(error);
    },

    close() {
      channel.end(
        new TransportError("ws", `${shownUrl}: closed by the client`),
      );
      return Promise.resolve();
    },
  };
  return channel;
}
