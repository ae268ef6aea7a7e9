// Every Remote the sync engine can be given passes one suite: a SyncServer over WebSocket and
// over HTTP, and plain gateways (a memory room, a shared folder) behind the gateway adapter.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { folderGateway } from "../../src/gateways/folder-gateway.js";
import type { Gateway } from "../../src/gateways/gateway.js";
import { memoryGateway } from "../../src/gateways/memory-gateway.js";
import { createMemoryBackend } from "../../src/server/backends/memory-backend.js";
import { createSyncServer } from "../../src/server/index.js";
import type { SyncServer } from "../../src/server/index.js";
import { createGatewayRemote } from "../../src/sync/gateway-remote.js";
import { openHttpRemote } from "../../src/sync/http-remote.js";
import type { Remote } from "../../src/sync/remote.js";
import { describeRemoteConformance } from "../../src/sync/remote-conformance.js";
import { parseServerEndpoint } from "../../src/sync/server-endpoint.js";
import { WsPool } from "../../src/sync/ws-pool.js";
import { openWsRemote } from "../../src/sync/ws-remote.js";
import { loadNodeSocket } from "../../src/sync/node-socket.js";
import { sha256 } from "../fixtures/fake-sync.js";

const shared = new WsPool();

let server: SyncServer;
let base = "";
beforeAll(async () => {
  server = createSyncServer({ backend: createMemoryBackend() });
  base = (await server.listen({ port: 0, host: "127.0.0.1" })).url;
});
afterAll(() => server.close());

const endpoint = (ledger: string) =>
  parseServerEndpoint(new URL(base), ledger, undefined);

// A pool per session: each its own socket, so the live case crosses the server.
describeRemoteConformance("SyncServer over WebSocket", {
  open: (ledger) =>
    openWsRemote(
      endpoint(ledger),
      loadNodeSocket,
      undefined,
      undefined,
      new WsPool(),
    ),
});

// Sessions of one process share a socket: the same contract holds through it.
describeRemoteConformance("SyncServer over one shared WebSocket", {
  open: (ledger) =>
    openWsRemote(
      endpoint(ledger),
      loadNodeSocket,
      undefined,
      undefined,
      shared,
    ),
});

describeRemoteConformance("SyncServer over HTTP", {
  open: async (ledger) => (await openHttpRemote(endpoint(ledger))).remote,
});

/** A gateway remote per session, each over its own handle (as each connection opens one). */
function gatewayRemotes(
  gateway: () => Promise<Gateway>,
  transport: "memory" | "file",
): (ledger: string) => Promise<Remote> {
  return async (ledger) => {
    const handle = await gateway();
    const remote = createGatewayRemote(
      handle,
      ledger,
      transport,
      () => false,
      sha256,
    );
    const close = remote.close.bind(remote);
    remote.close = async () => {
      await close();
      await handle.close();
    };
    return remote;
  };
}

describeRemoteConformance("memory gateway", {
  open: gatewayRemotes(
    () =>
      memoryGateway.open(
        memoryGateway.parse(
          new URL(`memory://remote-conformance-${process.pid}`),
        ),
      ),
    "memory",
  ),
});

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "kiln-remote-conformance-"));
});
afterAll(() => rm(folder, { recursive: true, force: true }));

describeRemoteConformance("folder gateway", {
  open: gatewayRemotes(
    () => folderGateway.open(folderGateway.parse(new URL(`file://${folder}`))),
    "file",
  ),
});
