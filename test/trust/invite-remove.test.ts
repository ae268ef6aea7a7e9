// Invitations and removal with key rotation (docs/security.md, "Invitations and key
// rotation"): an admin invites a writer by its public key; the invitation carries the
// ledger's keys sealed for that writer (X25519), never a raw key, and pins the ledger. A
// removal rotates the content key: the removed member keeps syncing but cannot decrypt what
// is written after, nor write; a remaining member reads everything.
import { afterEach, describe, expect, it } from "vitest";
import { openLedger, whoami } from "../../src/index.js";
import type { Connection, Ledger } from "../../src/index.js";

let n = 0;
const room = (what: string) => `memory://invite-${what}-${process.pid}-${n++}`;
const FAST = { backoff: { baseMs: 5, maxMs: 20 } };
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function track(ledger: Promise<Ledger>): Promise<Ledger> {
  const l = await ledger;
  cleanup.push(() => l.close());
  return l;
}

function errorWhere(c: Connection, code: string): Promise<Error> {
  return new Promise((resolve) =>
    c.on("error", (e) => {
      if (e.code === code) resolve(e);
    }),
  );
}

describe("invitations and removal", () => {
  it("invites writers by public key; a removal rotates the key for what follows", async () => {
    const remote = room("remote");
    const a = await track(
      openLedger("orders", { storage: room("a"), members: true }),
    );
    const ca = a.connect(remote, FAST);
    await a.put({ _id: "before" });

    // b and c tell a their writers (kiln whoami), and get invitations back.
    const bStorage = room("b");
    const cStorage = room("c");
    const bWriter = await whoami({ storage: bStorage });
    const cWriter = await whoami({ storage: cStorage });
    const forB = await a.invite(bWriter, { role: "writer" });
    const forC = await a.invite(cWriter, { role: "writer" });
    expect(forB).not.toContain(a.key);
    await expect(
      openLedger("other", { storage: room("x"), invitation: forB }),
    ).rejects.toMatchObject({ code: "invalid-argument" });
    await ca.synced();

    const b = await track(
      openLedger("orders", { storage: bStorage, invitation: forB }),
    );
    const c = await track(
      openLedger("orders", { storage: cStorage, invitation: forC }),
    );
    // Not yet synced: not yet a member.
    await expect(b.put({ _id: "early" })).rejects.toMatchObject({
      code: "membership",
    });
    const cb = b.connect(remote, FAST);
    const cc = c.connect(remote, FAST);
    await cb.synced();
    await cc.synced();
    expect(b.members()?.roles).toEqual({
      [a.writer]: "admin",
      [bWriter]: "writer",
      [cWriter]: "writer",
    });
    await b.put({ _id: "from-b" });
    await c.put({ _id: "from-c" });
    await cb.synced();
    await cc.synced();
    await ca.synced();
    expect((await a.allDocs()).rows.map((r) => r.id)).toEqual([
      "before",
      "from-b",
      "from-c",
    ]);

    // a removes c: the key rotates; a writes a secret after.
    await a.remove(cWriter);
    await a.put({ _id: "secret", text: "after the removal" });
    await ca.synced();
    expect(a.members()?.roles).toEqual({
      [a.writer]: "admin",
      [bWriter]: "writer",
    });

    // b, remaining, reads it.
    await cb.synced();
    expect(await b.get("secret")).toMatchObject({ text: "after the removal" });
    // Its history and past views read the rotated commits too.
    expect(await b.history("secret")).toMatchObject([
      { kind: "put", writer: a.writer, doc: { text: "after the removal" } },
    ]);
    expect(await (await b.at(b.clock)).get("secret")).toMatchObject({
      text: "after the removal",
    });

    // c keeps syncing — it merges its removal — but cannot decrypt the secret (reported
    // on the connection), and may no longer write.
    const missing = errorWhere(cc, "missing-key");
    await cc.synced();
    expect((await missing).message).toContain("removed");
    expect(c.members()?.roles).toEqual({
      [a.writer]: "admin",
      [bWriter]: "writer",
    });
    expect(cc.status).toMatchObject({
      kind: "live",
      refused: { code: "missing-key" },
    });
    await expect(c.put({ _id: "from-c-after" })).rejects.toMatchObject({
      code: "membership",
    });
    await expect(c.get("secret")).rejects.toMatchObject({ code: "not-found" });
    expect(await c.get("from-b")).toMatchObject({ _id: "from-b" });
  });
});
