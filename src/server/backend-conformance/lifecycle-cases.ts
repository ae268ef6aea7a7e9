// Conformance cases of a backend's life: revoked tokens, close, and reopening what was closed.
import { expect, it } from "vitest";
import { ClosedError } from "../../util/errors.js";
import { makeTestChain, makeTestCommit } from "../backends/test-commits.js";
import { cids, texts, metaText, expectBytes } from "./kit.js";
import type { BackendConformanceKit } from "./kit.js";

export function describeLifecycleCases(kit: BackendConformanceKit): void {
  const { fresh, openTracked, open, opened, options, watchTimeoutMs, section } =
    kit;
  section("revocation", () => {
    it("records a revoked token id, tells its watchers, and keeps it", async () => {
      const b = await openTracked();
      const id = fresh("jti").replace(/[^A-Za-z0-9_-]/g, "_");
      const heard = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error("no revocation heard")),
          watchTimeoutMs,
        );
        const stop = b.watchRevocations((revoked) => {
          if (revoked !== id) return;
          clearTimeout(timer);
          stop();
          resolve(revoked);
        });
      });
      expect(await b.revokedTokens()).not.toContain(id);
      await b.revokeToken(id);
      expect(await heard).toBe(id);
      expect(await b.revokedTokens()).toContain(id);
      await b.revokeToken(id); // twice is harmless
      expect((await b.revokedTokens()).filter((r) => r === id)).toHaveLength(1);
      for (const bad of ["", "a b", "x".repeat(129), "é"])
        await expect(b.revokeToken(bad), bad).rejects.toMatchObject({
          code: "invalid-argument",
        });
      const reopenRevoked = options.reopen;
      if (reopenRevoked) {
        opened.splice(opened.indexOf(b), 1);
        await b.close();
        const again = await reopenRevoked(b);
        opened.push(again);
        expect(await again.revokedTokens()).toContain(id);
      }
    });
  });

  section("close", () => {
    it("finishes puts issued before close, then rejects every call", async () => {
      const b = await open();
      const ledger = fresh("closed");
      const c = await makeTestCommit();
      const put = b.putCommits(ledger, [c]);
      await b.close();
      expect(texts((await put).heads)).toEqual(texts([c]));
      const calls: [string, () => Promise<unknown>][] = [
        ["putCommits", () => b.putCommits(ledger, [c])],
        ["getCommits", () => b.getCommits(ledger, [c.cid])],
        ["getMeta", () => b.getMeta(ledger, [c.cid])],
        ["getHeads", () => b.getHeads(ledger)],
        ["storedBytes", () => b.storedBytes(ledger)],
        ["revokeToken", () => b.revokeToken("some-id")],
      ];
      for (const [method, call] of calls)
        await expect(call(), method).rejects.toBeInstanceOf(ClosedError);
      expect(() => b.watch(ledger, () => undefined)).toThrow(ClosedError);
      await b.close(); // twice is harmless
    });
  });

  const reopen = options.reopen;
  if (reopen)
    section("reopen", () => {
      it("keeps commits, meta and heads across close and reopen", async () => {
        const b = await open();
        const ledger = fresh("reopen");
        const [root] = await makeTestChain(1);
        const left = await makeTestChain(3, [root!.cid]);
        const right = await makeTestChain(2, [root!.cid]);
        await b.putCommits(ledger, [root!, ...left]);
        await b.putCommits(ledger, right);
        const all = [root!, ...left, ...right];
        const heads = texts(await b.getHeads(ledger));
        const metas = (await b.getMeta(ledger, cids(all))).map(metaText);
        await b.close();
        const again = await reopen(b);
        opened.push(again);
        expect(texts(await again.getHeads(ledger))).toEqual(heads);
        expect((await again.getMeta(ledger, cids(all))).map(metaText)).toEqual(
          metas,
        );
        const bytes = await again.getCommits(ledger, cids(all));
        all.forEach((c, i) => expectBytes(bytes[i], c.bytes));
        // It goes on working: a merge on top of what was reopened.
        const merge = await makeTestCommit([left[2]!.cid, right[1]!.cid]);
        await again.putCommits(ledger, [merge]);
        expect(texts(await again.getHeads(ledger))).toEqual(texts([merge]));
      });
    });
}
