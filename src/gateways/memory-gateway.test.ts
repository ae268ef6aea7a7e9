import { describe, expect, it } from "vitest";
import { cidFor } from "../blocks/cid.js";
import { nodeCrypto } from "../blocks/node-crypto.js";
import { InvalidUrlError } from "../util/errors.js";
import { describeGatewayConformance } from "./gateway-conformance.js";
import { memoryGateway } from "./memory-gateway.js";
import { createRegistry } from "./registry.js";

const registry = createRegistry([memoryGateway]);
let rooms = 0;

describeGatewayConformance(
  "memory://name",
  () => registry.open(`memory://conformance-${++rooms}`),
  {
    openSibling: (first) => registry.open(first.url),
  },
);

describeGatewayConformance("memory:// (private)", () =>
  registry.open("memory://"),
);

describe("memoryGateway", () => {
  it("parses a room name once, into typed options", () => {
    expect(memoryGateway.parse(new URL("memory://orders"))).toEqual({
      name: "orders",
    });
    expect(memoryGateway.parse(new URL("memory://Trade%20Board"))).toEqual({
      name: "Trade Board",
    });
    expect(memoryGateway.parse(new URL("memory://"))).toEqual({
      name: undefined,
    });
  });

  it.each([
    "memory://room/path",
    "memory://room?x=1",
    "memory://room#frag",
    "memory:room",
    "memory://u:p@room",
    "memory://room:80",
  ])("rejects %s", (url) => {
    expect(() => registry.check(url)).toThrow(InvalidUrlError);
  });

  it("shares a named room between opens, and not a private one", async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const cid = cidFor(nodeCrypto, bytes);
    const a = await registry.open("memory://shared-room");
    const b = await registry.open("memory://shared-room");
    const p = await registry.open("memory://");
    const q = await registry.open("memory://");
    await a.putCommit("l", cid, bytes);
    await p.putCommit("l", cid, bytes);
    expect(await b.getCommit("l", cid)).toEqual(bytes);
    expect(await q.getCommit("l", cid)).toBeUndefined();
    expect(a.url).toBe("memory://shared-room");
    expect(p.url).toBe("memory://");
    await Promise.all([a, b, p, q].map((g) => g.close()));
  });
});
