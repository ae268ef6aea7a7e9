import { describe, expect, it } from "vitest";
import { FakeClock } from "../util/fake-clock.js";
import { FakeHost } from "../../test/fixtures/fake-sync.js";
import { memoryGateway } from "../gateways/memory-gateway.js";
import { decodeSyncStates, Outbox, OutboxStore } from "./outbox.js";
import type { OutboxRecords, SyncState } from "./outbox.js";

/** Records that keep every write, failing while `fail` is set. */
function records(
  writes: SyncState[],
  fail?: () => Error | undefined,
): OutboxRecords {
  return {
    get: () => Promise.resolve(undefined),
    set: (_remote, state) => {
      const error = fail?.();
      if (error) return Promise.reject(error);
      writes.push(state);
      return Promise.resolve();
    },
  };
}

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
      records: records(writes),
      remoteId: "r",
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
      records: records(writes, () =>
        fail ? new Error("disk full") : undefined,
      ),
      remoteId: "r",
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
      records: records([]),
      remoteId: "r",
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

  it("keeps a hostile remote's head set within the protocol's bound", () => {
    const outbox = new Outbox(initial, {
      records: records([]),
      remoteId: "r",
      onError: () => undefined,
      clock: new FakeClock(),
    });
    outbox.setRemote(Array.from({ length: 100_000 }, (_, i) => `h${i}`));
    expect(outbox.state.remote.length).toBe(4096);
  });
});

describe("OutboxStore: every remote's record beside the ledger", () => {
  it("keeps each remote's record, and tells compaction what no remote acknowledged", async () => {
    const gateway = await memoryGateway.open(
      memoryGateway.parse(new URL("memory://")),
    );
    const store = new OutboxStore(gateway.local!, "orders");
    expect(await store.hasRemotes()).toBe(false);
    const host = new FakeHost();
    const [a, b, c] = [host.write(), host.write(), host.write()];
    // Remote one acknowledged up to a; remote two has seen b.
    await store.set("one", { ...initial, pushed: [a] });
    await store.set("two", { ...initial, remote: [b] });
    expect(await store.hasRemotes()).toBe(true);
    expect([...(await store.unacknowledged(host.graphView()))].sort()).toEqual(
      [b, c].sort(),
    );
    // Read back as a new ledger would, from the one meta record.
    const again = new OutboxStore(gateway.local!, "orders");
    expect(await again.get("one")).toEqual({ ...initial, pushed: [a] });
    const bytes = await gateway.local!.getMeta("orders", "sync");
    expect(Object.keys(decodeSyncStates(bytes!, "test").remotes)).toEqual([
      "one",
      "two",
    ]);
    await gateway.close();
  });

  it("loads a connection's record, and reports a damaged one instead of failing", async () => {
    const saved = { ...initial, pushed: ["x"] };
    const errors: Error[] = [];
    const damaged = new Error("sync state is not valid json");
    let isDamaged = false;
    const outbox = () =>
      new Outbox(
        { ...initial, url: "ws://new" },
        {
          records: {
            get: () =>
              isDamaged ? Promise.reject(damaged) : Promise.resolve(saved),
            set: () => Promise.resolve(),
          },
          remoteId: "r",
          onError: (e) => errors.push(e),
          clock: new FakeClock(),
        },
      );
    const first = outbox();
    await first.load();
    expect(first.state).toEqual({ ...saved, url: "ws://new" });
    isDamaged = true;
    const second = outbox();
    await second.load();
    expect(second.state).toEqual({ ...initial, url: "ws://new" });
    expect(errors).toEqual([damaged]);
  });
});
