// The drone swarm (examples/apps/drone-swarm) in Chromium: the simulator (in this process,
// ticked by hand: 6 drones in 2 squads) pushes fixes through `kiln serve`; two viewers in two
// browser contexts converge on every squad's last fix; a viewer offline falls behind and
// catches up; a squad whose link drops keeps recording and catches up; the simulator's
// storage stays bounded by compaction and the page shows it; a reload keeps local state.
import { afterAll, describe, expect, it } from "vitest";
import type { AppUsers } from "../../examples/apps/apps.js";
import { startSwarm } from "../../examples/apps/drone-swarm/simulator.js";
import { startAppStack } from "./app-stack.js";
import type { User } from "./app-stack.js";

const SQUADS = ["squad-0", "squad-1"];
const USERS: AppUsers = {
  simulator: { role: "simulator", ledgers: SQUADS, page: false },
  ops: { role: "viewer", ledgers: SQUADS, write: false },
  ops2: { role: "viewer", ledgers: SQUADS, write: false },
};
const stack = await startAppStack("drone-swarm", USERS);
const errors: unknown[] = [];
const swarm = await startSwarm(stack.configs.simulator!, {
  drones: 6,
  squadSize: 3,
  hz: 0,
  compactEvery: 5,
  storage: "memory://drone-swarm-test",
  onError: (e) => errors.push(e),
});
afterAll(async () => {
  await swarm.stop();
  await stack.close();
});

const WAIT = { timeout: 20_000 };
const row = (u: User, squad: string) => u.page.getByTestId(`squad-${squad}`);
const lastFix = async (u: User, squad: string) =>
  Number(await row(u, squad).getAttribute("data-last"));
async function showsFix(u: User, squad: string, at: number) {
  await expect
    .poll(() => lastFix(u, squad), { ...WAIT, message: `${u.name} ${squad}` })
    .toBe(at);
}

describe("drone swarm", () => {
  it("converges, catches up after an outage and a dropped link, stays bounded, keeps state on reload", async () => {
    const ops = await stack.open("ops");
    const ops2 = await stack.open("ops2");
    for (const u of [ops, ops2])
      for (const s of SQUADS)
        await row(u, s)
          .getByTestId("sync")
          .filter({ hasText: "live" })
          .waitFor(WAIT);

    // Both viewers converge on the fixes the simulator pushed.
    const first = await swarm.tick();
    for (const u of [ops, ops2])
      for (const s of SQUADS) {
        await showsFix(u, s, first);
        expect(await row(u, s).getByTestId("drones").textContent()).toBe("3");
      }

    // ops2 offline falls behind while ops follows; back online, it catches up.
    await ops2.offline(true);
    const second = await swarm.tick();
    await showsFix(ops, "squad-0", second);
    expect(await lastFix(ops2, "squad-0")).toBe(first);
    await ops2.offline(false);
    for (const s of SQUADS) await showsFix(ops2, s, second);

    // squad-1's link drops: it keeps recording, squad-0 goes on; back up, it catches up.
    swarm.link("squad-1", false);
    let last = second;
    for (let i = 0; i < 3; i++) last = await swarm.tick();
    await showsFix(ops, "squad-0", last);
    expect(await lastFix(ops, "squad-1")).toBe(second);
    swarm.link("squad-1", true);
    for (const u of [ops, ops2])
      for (const s of SQUADS) await showsFix(u, s, last);

    // Storage stays bounded: a compaction every 5 ticks keeps the drones' latest fixes and
    // what kiln serve has not acknowledged, not every fix (a commit is ~600 B here). What
    // still grows is the clock the checkpoint keeps, tens of bytes a commit (docs/apps.md).
    const sizes: number[] = [];
    for (let i = 0; i < 20; i++) {
      last = await swarm.tick();
      await swarm.synced();
      const stats = swarm.stats("squad-0");
      if (stats && stats.compactions > sizes.length)
        sizes.push(stats.storedBytes);
    }
    console.log(`squad-0 bytes after each compaction: ${sizes.join(", ")}`);
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    const perTick = (sizes.at(-1)! - sizes[0]!) / (5 * (sizes.length - 1));
    expect(perTick).toBeLessThan(150);
    await ops.page
      .getByTestId("squad-squad-0")
      .getByTestId("sim-bytes")
      .filter({ hasText: "KiB" })
      .waitFor(WAIT);
    for (const s of SQUADS) await showsFix(ops, s, last);
    expect(await ops.page.getByTestId("latency").textContent()).toMatch(
      /\d+ fixes · p50 \d+ ms · p99 \d+ ms/,
    );

    // A reload keeps local state: cut from kiln serve, the page shows every squad's last fix
    // from IndexedDB alone.
    await ops.cutFrom(stack.serverUrl);
    await ops.page.reload();
    for (const s of SQUADS) {
      await showsFix(ops, s, last);
      expect(await row(ops, s).getByTestId("drones").textContent()).toBe("3");
    }
    expect(errors).toEqual([]);
  });
});
