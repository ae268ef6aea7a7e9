import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { fileGateway } from "../gateways/file-gateway.js";
import { WRITER_FILE } from "../gateways/ledger-files.js";
import { createRegistry } from "../gateways/registry.js";
import { memoryGateway } from "../gateways/memory-gateway.js";
import { decodeWriter } from "../trust/signing.js";
import { whoami } from "../index.js";

const registry = createRegistry([memoryGateway, fileGateway]);
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true });
});

describe("the device writer", () => {
  it("is made once per storage, kept in a 0600 file, the same for every open", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kiln-writer-"));
    dirs.push(dir);
    const storage = pathToFileURL(dir).href;
    const first = await whoami({ storage, registry });
    expect(decodeWriter(first)).toHaveLength(32);
    expect(await whoami({ storage, registry })).toBe(first);
    expect((await stat(join(dir, WRITER_FILE))).mode & 0o777).toBe(0o600);
    // Two first opens at once agree on one key.
    const other = await mkdtemp(join(tmpdir(), "kiln-writer-"));
    dirs.push(other);
    const url = pathToFileURL(other).href;
    const [a, b] = await Promise.all([
      whoami({ storage: url, registry }),
      whoami({ storage: url, registry }),
    ]);
    expect(a).toBe(b);
    expect(a).not.toBe(first);
  });

  it("differs between memory rooms and persists within one", async () => {
    const a = await whoami({ storage: "memory://writer-room-a", registry });
    expect(await whoami({ storage: "memory://writer-room-a", registry })).toBe(
      a,
    );
    expect(
      await whoami({ storage: "memory://writer-room-b", registry }),
    ).not.toBe(a);
  });
});
