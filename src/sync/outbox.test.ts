import { describe, expect, it } from "vitest";
import { FakeClock } from "../util/fake-clock.js";
import { Outbox } from "./outbox.js";
import type { SyncState } from "./sync-state.js";

const initial: SyncState = {
  url: "ws://x",
  ledger: "l",
  pushed: [],
  remote: [],
};

describe("Outbox: the persisted sync state", () => {
  it("coalesces changes into one write a second, and writes the last state on close", async () => {
    const clock = new FakeClock();
    const writes: SyncState[] = [];
    const outbox = new Outbox(initial, {
      write: (s) => {
        writes.push(s);
        return Promise.resolve();
      },
      onError: (e) => {
        throw e;
      },
      clock,
    });
    outbox.setPushed(["a"]);
    outbox.setRemote(["r1"]);
    outbox.setPushed(["b"]);
    await clock.advance(999);
    expect(writes).toEqual([]);
    await clock.advance(1);
    expect(writes).toEqual([{ ...initial, pushed: ["b"], remote: ["r1"] }]);
    // The same remote heads again are no change.
    outbox.setRemote(["r1"]);
    await clock.advance(1000);
    expect(writes.length).toBe(1);
    outbox.reset();
    await outbox.close();
    expect(writes.at(-1)).toEqual(initial);
    expect(writes.length).toBe(2);
    // Closed: nothing more is written, and no timer is left behind.
    outbox.setPushed(["c"]);
    await clock.advance(5000);
    expect(writes.length).toBe(2);
    expect(clock.timers).toBe(0);
  });

  it("reports a failed write and writes again on the next change", async () => {
    const clock = new FakeClock();
    const errors: Error[] = [];
    let fail = true;
    const writes: SyncState[] = [];
    const outbox = new Outbox(initial, {
      write: (s) => {
        if (fail) return Promise.reject(new Error("disk full"));
        writes.push(s);
        return Promise.resolve();
      },
      onError: (e) => errors.push(e),
      clock,
    });
    outbox.setPushed(["a"]);
    await clock.advance(1000);
    expect(errors.map((e) => e.message)).toEqual(["disk full"]);
    fail = false;
    outbox.setPushed(["b"]);
    await clock.advance(1000);
    expect(writes).toEqual([{ ...initial, pushed: ["b"] }]);
  });

  it("counts pending commits: added locally, recounted by unsent(), lowered by acks", () => {
    const outbox = new Outbox(initial, {
      write: () => Promise.resolve(),
      onError: () => undefined,
      clock: new FakeClock(),
    });
    outbox.added(3);
    expect(outbox.pending).toBe(3);
    outbox.acknowledged(2, ["h"]);
    expect(outbox.pending).toBe(1);
    expect(outbox.state.remote).toEqual(["h"]);
    outbox.acknowledged(5, ["h"]);
    expect(outbox.pending).toBe(0);
  });
});
