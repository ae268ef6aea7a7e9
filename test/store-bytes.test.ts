// What lands on disk: no plaintext (encryption), and damaged bytes are detected with typed
// errors without changing anything stored (integrity).
import { createHash } from "node:crypto";
import {
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IntegrityError, KilnError, openLedger } from "../src/index.js";
import { WRITER_FILE } from "../src/gateways/ledger-files.js";
import { sealBytes } from "../src/blocks/commit.js";
import { encodeDocValue } from "../src/blocks/cbor-writer.js";
import { encodeEvent } from "../src/crdt/event.js";
import { openCommit } from "../src/ledger/commit-reader.js";
import { nodeSigning } from "../src/trust/node-signing.js";
import { nodeCrypto } from "../src/blocks/node-crypto.js";
import { utf8 } from "../src/util/bytes.js";

let dir: string;
let url: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "kiln-bytes-"));
  url = pathToFileURL(dir).href;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function files(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const p = join(root, entry.name);
    if (entry.isDirectory()) out.push(...(await files(p)));
    else out.push(p);
  }
  return out;
}

const MARKER = "PLAINTEXT-MARKER-7f3a9c";

describe("encryption at rest", () => {
  it("no stored byte contains a doc's plaintext, an id, or a field name", async () => {
    const ledger = await openLedger("secrets", { storage: url });
    await ledger.put({
      _id: `id-${MARKER}`,
      note: MARKER,
      [`field${MARKER}`]: 1,
    });
    await ledger.bulk(
      Array.from({ length: 50 }, (_, i) => ({
        _id: `bulk-${i}-${MARKER}`,
        note: `${MARKER} ${i}`,
      })),
    );
    await ledger.put({ _id: "bin", bytes: utf8(MARKER) });
    await ledger.compact();
    await ledger.put({ _id: "after", note: MARKER });
    await ledger.close();
    const all = await files(dir);
    expect(all.length).toBeGreaterThanOrEqual(3);
    let scanned = 0;
    for (const f of all) {
      if (f.endsWith("/key")) continue; // the key file holds the key, not documents
      const bytes = await readFile(f);
      scanned += bytes.length;
      expect(bytes.includes(Buffer.from(MARKER)), f).toBe(false);
      expect(bytes.includes(Buffer.from("7f3a9c")), f).toBe(false);
    }
    expect(scanned).toBeGreaterThan(1000);
    // And the key file is the owner's alone.
    const keyFile = all.find((f) => f.endsWith("/key"))!;
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
  });
});

describe("integrity", () => {
  it("every single flipped byte of a sealed commit is refused with a typed error", async () => {
    const key = nodeCrypto.randomBytes(32);
    const doc = encodeDocValue({ text: "a doc" });
    const sealed = await sealBytes(
      nodeCrypto,
      key,
      [],
      encodeEvent({ h: 1, ops: [["a", doc]] }),
      await nodeSigning.importSigner(new Uint8Array(32).fill(3)),
    );
    const opened = await openCommit(nodeCrypto, key, sealed.cid, sealed.bytes);
    expect(opened.docs.get("a")).toEqual(doc);
    for (let i = 0; i < sealed.bytes.length; i++) {
      const bad = new Uint8Array(sealed.bytes);
      bad[i]! ^= 0x01;
      await expect(
        openCommit(nodeCrypto, key, sealed.cid, bad),
      ).rejects.toBeInstanceOf(IntegrityError);
    }
    // Bytes that match their CID but were sealed under another key are a DecryptError.
    await expect(
      openCommit(
        nodeCrypto,
        nodeCrypto.randomBytes(32),
        sealed.cid,
        sealed.bytes,
      ),
    ).rejects.toMatchObject({ code: "decrypt" });
    // A truncated commit is refused too.
    await expect(
      openCommit(nodeCrypto, key, sealed.cid, sealed.bytes.subarray(0, 10)),
    ).rejects.toBeInstanceOf(IntegrityError);
  });

  it("a flipped byte in a stored commit is detected on reopen, and the store is left as it was", async () => {
    const ledger = await openLedger("flip", { storage: url });
    for (let i = 0; i < 20; i++) await ledger.put({ _id: `d${i}`, v: i });
    await ledger.close();
    const ledgerDir = join(
      dir,
      (await readdir(dir)).find((f) => f !== WRITER_FILE)!,
    );
    // Without the checkpoint the reopen replays (and so reads) every commit.
    await unlink(join(ledgerDir, "checkpoint"));
    const log = join(ledgerDir, "log");
    const original = await readFile(log);
    const damaged = Buffer.from(original);
    damaged[Math.floor(original.length / 2)]! ^= 0xff;
    await writeFile(log, damaged);
    const digest = createHash("sha256").update(damaged).digest("hex");
    const opening = openLedger("flip", { storage: url });
    await expect(opening).rejects.toBeInstanceOf(KilnError);
    await expect(opening).rejects.toMatchObject({
      code: expect.stringMatching(/^(integrity|corrupt)$/) as unknown as string,
    });
    // Nothing was truncated or rewritten by the failed open.
    expect(
      createHash("sha256")
        .update(await readFile(log))
        .digest("hex"),
    ).toBe(digest);
    // Restoring the byte restores the ledger, whole.
    await writeFile(log, original);
    const again = await openLedger("flip", { storage: url });
    expect((await again.allDocs()).rows).toHaveLength(20);
    await again.close();
  });

  it("a damaged checkpoint is skipped: the commits are replayed", async () => {
    const ledger = await openLedger("cp", { storage: url });
    for (let i = 0; i < 20; i++) await ledger.put({ _id: `d${i}`, v: i });
    const clock = ledger.clock;
    await ledger.close();
    const ledgerDir = join(
      dir,
      (await readdir(dir)).find((f) => f !== WRITER_FILE)!,
    );
    const cp = await readFile(join(ledgerDir, "checkpoint"));
    cp[cp.length - 40]! ^= 0xff;
    await writeFile(join(ledgerDir, "checkpoint"), cp);
    const again = await openLedger("cp", { storage: url });
    expect(again.clock).toEqual(clock);
    expect((await again.allDocs()).rows).toHaveLength(20);
    await again.close();
  });
});
