// ws(s):// and http(s):// in the registry: a Kiln SyncServer as a remote. The same base URL
// serves both transports, so ws://h/p and http://h/p name one server (one sync state). The
// WebSocket class is the platform's (node-socket.ts on Node, the global one in browsers).
import { InvalidUrlError } from "../util/errors.js";
import type { RemoteFactory } from "./remote-factory.js";
import { createServerOpener } from "./remote-opener.js";
import { parseServerEndpoint } from "./server-endpoint.js";
import type { SocketLoader } from "./socket.js";

/** The ws(s):// and http(s):// remote (a Kiln SyncServer), with the platform's WebSocket. */
export function createSyncServerRemote(
  socket: SocketLoader,
): RemoteFactory<URL> {
  return {
    schemes: ["ws:", "wss:", "http:", "https:"],
    roles: ["remote"],
    parse(url) {
      // Checked now, so a bad URL throws from connect(); the ledger and token come later.
      parseServerEndpoint(url, "-", undefined);
      return url;
    },
    open() {
      return Promise.reject(
        new InvalidUrlError(
          "ws://",
          "a SyncServer cannot hold a ledger's own storage; connect() to it as a remote",
        ),
      );
    },
    plan(url, { ledger, options }) {
      const endpoint = parseServerEndpoint(url, ledger, options.token);
      return {
        where: endpoint.httpUrl,
        opener: createServerOpener(endpoint, {
          socket,
          ...(options.wsRetry ? { wsRetry: options.wsRetry } : {}),
        }),
      };
    },
  };
}
