// The supply-chain app (examples/apps/supply-chain) in Chromium: two partners in two browser
// contexts converge on a shipment's custody trail through `kiln serve`; the carrier goes
// offline, keeps recording, comes back and converges; a reload keeps local state (the trail
// and the private note); and a partner's token cannot read another partner's private ledger.
import { afterAll, describe, expect, it } from "vitest";
import { APPS } from "../../examples/apps/apps.js";
import { openLedger } from "../../src/index.js";
import { startAppStack } from "./app-stack.js";
import type { User } from "./app-stack.js";

const stack = await startAppStack("supply-chain", APPS["supply-chain"]!);
afterAll(() => stack.close());

const WAIT = { timeout: 20_000 };
const trail = (u: User) => u.page.getByTestId("trail").locator("li");
const custody = (u: User, text: string) =>
  u.page.getByTestId("custody").filter({ hasText: text }).waitFor(WAIT);
const live = (u: User) =>
  u.page
    .getByTestId("sync")
    .filter({ hasText: "shipments live" })
    .waitFor(WAIT);

describe("supply chain", () => {
  it("converges on a custody trail, records offline, keeps state on reload", async () => {
    const factory = await stack.open("factory");
    const carrier = await stack.open("carrier");
    await live(factory);
    await live(carrier);

    // The factory creates a shipment and hands it to the carrier.
    await factory.page.getByLabel("reference").fill("PO-1");
    await factory.page.getByLabel("goods").fill("40 pallets of tiles");
    await factory.page.getByLabel("receiver").fill("shop");
    await factory.page.getByRole("button", { name: "New shipment" }).click();
    await custody(factory, "held by factory");
    await factory.page.getByLabel("hand over to").fill("carrier");
    await factory.page.getByRole("button", { name: "Hand over" }).click();
    await custody(factory, "in transit factory → carrier");

    // The carrier sees it, opens its page, and the trail names both steps, the key each was
    // recorded with, and that the commit's signature is by that key.
    await carrier.page.getByTestId("link-PO-1").getByRole("link").click();
    await custody(carrier, "in transit factory → carrier");
    await expect
      .poll(() => trail(carrier).allTextContents(), WAIT)
      .toEqual([
        expect.stringMatching(/factory created [\w-]{8}… ✓ signed$/),
        expect.stringMatching(
          /factory handed-over to carrier [\w-]{8}… ✓ signed$/,
        ),
      ]);

    // Offline, the carrier confirms receipt and writes a private note: both at once, locally.
    await carrier.offline(true);
    await carrier.page
      .getByTestId("sync")
      .filter({ hasNotText: "live" })
      .waitFor(WAIT);
    await carrier.page.getByRole("button", { name: "Confirm receipt" }).click();
    await custody(carrier, "held by carrier");
    await carrier.page.getByLabel("private note").fill("dock 4, seal 9911");
    await carrier.page.getByRole("button", { name: "Save note" }).click();
    await carrier.page.getByTestId("note-saved").waitFor(WAIT);
    await carrier.page
      .getByTestId("sync")
      .filter({ hasText: "1 to send" })
      .waitFor(WAIT);
    // Meanwhile the factory ships another; it does not reach the offline carrier.
    await factory.page.getByLabel("reference").fill("PO-2");
    await factory.page.getByLabel("receiver").fill("shop");
    await factory.page.getByRole("button", { name: "New shipment" }).click();
    await custody(factory, "held by factory");
    await factory.page.getByTestId("link-PO-1").getByRole("link").click();
    await custody(factory, "in transit factory → carrier");
    expect(await carrier.page.getByTestId("link-PO-2").count()).toBe(0);

    // Back online, both converge: the receipt reaches the factory, PO-2 the carrier.
    await carrier.offline(false);
    await custody(factory, "held by carrier");
    await carrier.page.getByTestId("link-PO-2").waitFor(WAIT);
    for (const u of [factory, carrier])
      await expect.poll(() => trail(u).count(), WAIT).toBe(3);
    // The private note reaches kiln serve under private-carrier (nothing left to send): the
    // carrier's token and key read it back from Node, the factory's token is refused.
    await carrier.page
      .getByTestId("sync-private")
      .filter({ hasText: /^private live$/ })
      .waitFor(WAIT);
    if (process.env.KILN_SCREENSHOTS)
      await carrier.page.screenshot({
        path: "docs/screenshots/supply-chain.png",
      });
    const shipmentId = decodeURIComponent(
      new URL(carrier.page.url()).hash.slice(1),
    );
    const configs = stack.configs;
    const asCarrier = await openLedger("private-carrier", {
      storage: "memory://sc-carrier",
      key: configs.carrier!.keys["private-carrier"]!,
    });
    await asCarrier
      .connect(stack.serverUrl, { token: configs.carrier!.token })
      .synced();
    expect((await asCarrier.get(shipmentId)).text).toBe("dock 4, seal 9911");
    await asCarrier.close();
    expect(configs.factory!.keys["private-carrier"]).toBeUndefined();
    const asFactory = await openLedger("private-carrier", {
      storage: "memory://sc-factory",
    });
    await expect(
      asFactory
        .connect(stack.serverUrl, { token: configs.factory!.token })
        .synced(),
    ).rejects.toMatchObject({ code: "protocol", reason: "forbidden" });
    await asFactory.close();

    // A reload keeps local state: cut from kiln serve, the carrier's page comes back from
    // IndexedDB alone, on the same shipment, with its trail and the private note.
    await carrier.cutFrom(stack.serverUrl);
    await carrier.page.reload();
    await custody(carrier, "held by carrier");
    expect(await trail(carrier).count()).toBe(3);
    await expect
      .poll(() => carrier.page.getByLabel("private note").inputValue(), WAIT)
      .toBe("dock 4, seal 9911");
    await carrier.page.getByTestId("link-PO-2").waitFor(WAIT);
  });
});
