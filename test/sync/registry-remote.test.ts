// connect() resolves every URL through the one gateway registry: a third-party gateway
// registered there is a remote too, and an unknown scheme's error lists the registered ones.
import { describe, expect, it } from "vitest";
import {
  createRegistry,
  DEFAULT_GATEWAYS,
  memoryGateway,
  openLedger,
} from "../../src/index.js";
import type { GatewayFactory } from "../../src/index.js";
import { synced } from "../fixtures/connection-waits.js";

/** A third party's gateway: memory rooms under its own scheme, written against the seam only. */
const roomGateway: GatewayFactory<unknown> = {
  schemes: ["room:"],
  parse: (url) =>
    memoryGateway.parse(new URL(`memory://third-party-${url.host}`)),
  open: (options) => memoryGateway.open(options as never),
};

describe("connect() through the gateway registry", () => {
  it("syncs through a third-party gateway registered beside the built-in ones", async () => {
    const registry = createRegistry([...DEFAULT_GATEWAYS, roomGateway]);
    const a = await openLedger("orders", { storage: "memory://", registry });
    const b = await openLedger("orders", {
      storage: "memory://",
      registry,
      key: a.key,
    });
    const url = `room://r${process.pid}`;
    const ca = a.connect(url);
    const cb = b.connect(url);
    await a.put({ _id: "from-a" });
    await synced(ca);
    await synced(cb);
    expect((await b.get("from-a"))._id).toBe("from-a");
    expect(cb.status).toEqual({ kind: "live", transport: "room" });
    await a.close();
    await b.close();
  });

  it("refuses an unknown scheme, listing the registered ones", async () => {
    const a = await openLedger("orders", { storage: "memory://" });
    expect(() => a.connect("s3://bucket/prefix")).toThrow(
      "no remote for scheme s3: (registered: memory:, file:, ws:, wss:, http:, https:)",
    );
    const only = await openLedger("orders", {
      storage: "memory://",
      registry: createRegistry([memoryGateway]),
    });
    expect(() => only.connect("ws://127.0.0.1:1")).toThrow(
      "no remote for scheme ws: (registered: memory:)",
    );
    await a.close();
    await only.close();
  });

  it("keeps the roles apart: file:// is a local store to openLedger and a shared folder to connect()", async () => {
    await expect(
      openLedger("orders", { storage: "ws://127.0.0.1:1" }),
    ).rejects.toThrow("no gateway for scheme ws:");
    const a = await openLedger("orders", { storage: "memory://" });
    // A folder remote takes ?poll=, which the local file store does not know.
    expect(() =>
      a.connect("file:///nonexistent-kiln-folder?poll=50"),
    ).not.toThrow();
    await a.close();
  });
});
