// The trade approval app (examples/apps/trade-approval) in Chromium, three users in three browser
// contexts syncing through `kiln serve`: a proposal reaches both approvers; approvers who
// decide differently at once see the conflict; an approver offline keeps deciding and the
// board converges when they return; a reload keeps local state.
import { afterAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { APPS } from "../../examples/apps/apps.js";
import { startAppStack } from "./app-stack.js";
import type { User } from "./app-stack.js";

const stack = await startAppStack("trade-approval", APPS["trade-approval"]!);
afterAll(() => stack.close());

const WAIT = { timeout: 20_000 };
const status = (page: Page, symbol: string) =>
  page.getByTestId(`trade-${symbol}`).getByTestId("status");

async function expectStatus(user: User, symbol: string, text: string) {
  await status(user.page, symbol).filter({ hasText: text }).waitFor(WAIT);
}

describe("trade approval", () => {
  it("converges through kiln serve, shows a conflict, works offline and keeps state on reload", async () => {
    const tina = await stack.open("tina");
    const alice = await stack.open("alice");
    const bob = await stack.open("bob");
    for (const u of [tina, alice, bob])
      await u.page
        .getByTestId("sync")
        .filter({ hasText: "live" })
        .waitFor(WAIT);

    // The trader proposes; both approvers see it.
    await tina.page.getByLabel("symbol").fill("ACME");
    await tina.page.getByRole("button", { name: "Propose" }).click();
    for (const u of [alice, bob]) await expectStatus(u, "ACME", "0/2 decided");

    // Both decide at once, differently: each decision is in its own field, both survive,
    // and every board shows the conflict.
    const card = (u: User) => u.page.getByTestId("trade-ACME");
    await Promise.all([
      card(alice).getByRole("button", { name: "Approve" }).click(),
      card(bob).getByRole("button", { name: "Reject" }).click(),
    ]);
    for (const u of [tina, alice, bob]) {
      await expectStatus(u, "ACME", "conflict");
      if (u === alice && process.env.KILN_SCREENSHOTS)
        await alice.page.screenshot({
          path: "docs/screenshots/trade-approval.png",
        });
      await card(u).getByRole("alert").waitFor(WAIT);
      expect(await card(u).getByRole("alert").textContent()).toContain(
        "alice approved, bob rejected",
      );
    }

    // Each decision shows the device key that signed it (from the trade's history): alice's
    // and bob's own keys, on every board.
    const keyOf = async (u: User) =>
      /([\w-]{8})…/.exec(
        (await u.page.getByTestId("writer").textContent()) ?? "",
      )?.[1];
    const [aliceKey, bobKey] = [await keyOf(alice), await keyOf(bob)];
    expect(aliceKey).not.toBe(bobKey);
    for (const u of [tina, alice, bob])
      await expect
        .poll(
          async () =>
            (await card(u).getByTestId("signer").allTextContents()).map((t) =>
              t.trim(),
            ),
          WAIT,
        )
        .toEqual([`signed ${aliceKey}…`, `signed ${bobKey}…`]);

    // Bob goes offline and changes his mind: his board resolves at once, locally.
    await bob.offline(true);
    await bob.page
      .getByTestId("sync")
      .filter({ hasNotText: "live" })
      .waitFor(WAIT);
    await card(bob).getByRole("button", { name: "Approve" }).click();
    await expectStatus(bob, "ACME", "executed");
    await bob.page
      .getByTestId("sync")
      .filter({ hasText: "1 to send" })
      .waitFor(WAIT);
    // A second trade proposed meanwhile reaches alice, not bob.
    await tina.page.getByLabel("symbol").fill("INIT");
    await tina.page.getByRole("button", { name: "Propose" }).click();
    await expectStatus(alice, "INIT", "0/2 decided");
    expect(await bob.page.getByTestId("trade-INIT").count()).toBe(0);
    await expectStatus(alice, "ACME", "conflict"); // bob's change has not left his browser

    // Back online, everyone converges.
    await bob.offline(false);
    for (const u of [tina, alice, bob]) {
      await expectStatus(u, "ACME", "executed");
      await expectStatus(u, "INIT", "0/2 decided");
    }

    // A reload keeps local state: cut from kiln serve, alice's board comes back from her
    // IndexedDB alone.
    await alice.cutFrom(stack.serverUrl);
    await alice.page.reload();
    await alice.page
      .getByTestId("sync")
      .filter({ hasNotText: "live" })
      .waitFor(WAIT);
    await expectStatus(alice, "ACME", "executed");
    await expectStatus(alice, "INIT", "0/2 decided");
  });
});
