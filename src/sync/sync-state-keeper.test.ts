import { afterEach, describe, expect, it, vi } from "vitest";
import type { SyncState } from "./sync-state.js";
import { SyncStateKeeper } from "./sync-state-keeper.js";

const initial: SyncState = {
  url: "ws://x",
  ledger: "l",
  pushed: [],
  remote: [],
};

afterEach(() => {
  vi.useRealTimers();
});

describe("SyncStateKeeper", () => {
  it("coalesces changes into one write a second, and writes the last state on close", async () => {
    vi.useFakeTimers();
    const writes: SyncState[] = [];
    const keeper = new SyncStateKeeper(
      initial,
      (s) => {
        writes.push(s);
        return Promise.resolve();
      },
      (e) => {
        throw e;
      },
    );
    keeper.setPushed(["a"]);
    keeper.setRemote(["r1"]);
    keeper.setPushed(["b"]);
    expect(writes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(writes).toEqual([{ ...initial, pushed: ["b"], remote: ["r1"] }]);
    // The same remote heads again are no change.
    keeper.setRemote(["r1"]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(writes.length).toBe(1);
    keeper.reset();
    await keeper.close();
    expect(writes.at(-1)).toEqual(initial);
    expect(writes.length).toBe(2);
    // Closed: nothing more is written.
    keeper.setPushed(["c"]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(writes.length).toBe(2);
  });

  it("reports a failed write and writes again on the next change", async () => {
    vi.useFakeTimers();
    const errors: Error[] = [];
    let fail = true;
    const writes: SyncState[] = [];
    const keeper = new SyncStateKeeper(
      initial,
      (s) => {
        if (fail) return Promise.reject(new Error("disk full"));
        writes.push(s);
        return Promise.resolve();
      },
      (e) => errors.push(e),
    );
    keeper.setPushed(["a"]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(errors.map((e) => e.message)).toEqual(["disk full"]);
    fail = false;
    keeper.setPushed(["b"]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(writes).toEqual([{ ...initial, pushed: ["b"] }]);
  });
});
