import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createRandom, testSeed } from "../util/random.js";
import type { MemberCommit } from "./membership.js";
import { MembershipIndex } from "./membership.js";
import type { MembershipRecord, Role } from "./membership-record.js";
import {
  decodeMembershipRecord,
  encodeMembershipRecord,
} from "./membership-record.js";
import { encodeWriter } from "./signing.js";

// Public keys stand in for writers: the rule reads only keys, records and the DAG (the
// signatures are checked before it, by the caller).
const key = (n: number) => new Uint8Array(32).fill(n + 1);
const W = (n: number) => encodeWriter(key(n));

let serial = 0;
function commit(
  writer: number | undefined,
  parents: readonly string[],
  record?: MembershipRecord,
): MemberCommit {
  const cid = createHash("sha256")
    .update(`${++serial}`)
    .digest("hex")
    .slice(0, 16);
  return {
    cid,
    parents: [...parents],
    writer: writer === undefined ? undefined : W(writer),
    ...(record ? { record } : {}),
  };
}
const add = (n: number, role: Role = "writer"): MembershipRecord => ({
  op: "add",
  key: key(n),
  role,
});
const remove = (n: number): MembershipRecord => ({ op: "remove", key: key(n) });
const CREATE: MembershipRecord = { op: "create" };

function admitAll(index: MembershipIndex, ...commits: MemberCommit[]) {
  for (const c of commits) expect(index.admit(c), c.cid).toBeUndefined();
}

describe("membership", () => {
  it("makes the creator the first admin; admins admit, writers write, others are refused", () => {
    const index = new MembershipIndex();
    const genesis = commit(0, [], CREATE);
    const addWriter = commit(0, [genesis.cid], add(1));
    admitAll(index, genesis, addWriter);
    expect(index.isSigned).toBe(true);
    const members = index.membersAt([addWriter.cid]);
    expect(members.creator).toBe(W(0));
    expect([...members.roles]).toEqual([
      [W(0), "admin"],
      [W(1), "writer"],
    ]);
    const write = commit(1, [addWriter.cid]);
    admitAll(index, write);
    expect(index.admit(commit(2, [write.cid]))?.code).toBe("not-member");
    expect(index.admit(commit(1, [write.cid], add(2)))?.code).toBe("not-admin");
    expect(index.admit(commit(undefined, [write.cid]))?.code).toBe("unsigned");
    expect(index.admit(commit(3, [], CREATE))?.code).toBe("second-creator");
    // Not a member at its parents: the writer was added later, on another branch.
    expect(index.admit(commit(1, [genesis.cid]))?.code).toBe("not-member");
    // A member may remove itself.
    admitAll(index, commit(1, [write.cid], remove(1)));
  });

  it("voids every commit by a removed writer that the removal does not follow", () => {
    const index = new MembershipIndex();
    const genesis = commit(0, [], CREATE);
    const added = commit(0, [genesis.cid], add(1));
    const before = commit(1, [added.cid]);
    const concurrent = commit(1, [added.cid]);
    const removal = commit(0, [before.cid], remove(1));
    admitAll(index, genesis, added, before, concurrent);
    expect(index.isVoid(concurrent.cid)).toBe(false);
    admitAll(index, removal);
    // The commit the removal follows stands; the one it did not see is void from now on.
    expect(index.isVoid(before.cid)).toBe(false);
    expect(index.isVoid(concurrent.cid)).toBe(true);
    // Forged on pre-removal parents after the removal is known: void on arrival.
    const forged = commit(1, [before.cid]);
    admitAll(index, forged);
    expect(index.isVoid(forged.cid)).toBe(true);
    // After the removal it is no member at all.
    expect(index.admit(commit(1, [removal.cid]))?.code).toBe("not-member");
    expect(index.membersAt([removal.cid]).roles.has(W(1))).toBe(false);
    // A member's commit built on a void one still merges, and is not void.
    const onTop = commit(0, [forged.cid, removal.cid]);
    admitAll(index, onTop);
    expect(index.isVoid(onTop.cid)).toBe(false);
    // Re-admitted after the removal, it writes again.
    const again = commit(0, [removal.cid], add(1));
    const back = commit(1, [again.cid]);
    admitAll(index, again, back);
    expect(index.isVoid(back.cid)).toBe(false);
  });

  it("a removed admin's concurrent records change no one's members, whatever the arrival order", () => {
    const genesis = commit(0, [], CREATE);
    const admin = commit(0, [genesis.cid], add(1, "admin"));
    const removal = commit(0, [admin.cid], remove(1));
    const concurrent = commit(1, [admin.cid], add(2));
    const early = new MembershipIndex();
    admitAll(early, genesis, admin, concurrent, removal);
    const late = new MembershipIndex();
    admitAll(late, genesis, admin, removal, concurrent);
    const heads = [removal.cid, concurrent.cid];
    expect(late.isVoid(concurrent.cid)).toBe(true);
    expect(early.isVoid(concurrent.cid)).toBe(true);
    expect([...early.membersAt(heads).roles]).toEqual([
      ...late.membersAt(heads).roles,
    ]);
    expect(late.membersAt(heads).roles.has(W(2))).toBe(false);
    expect(late.membersAt(heads).roles.has(W(1))).toBe(false);
  });

  it("two admins removing each other concurrently both stay", () => {
    const index = new MembershipIndex();
    const genesis = commit(0, [], CREATE);
    const admin = commit(0, [genesis.cid], add(1, "admin"));
    const a = commit(0, [admin.cid], remove(1));
    const b = commit(1, [admin.cid], remove(0));
    admitAll(index, genesis, admin, a, b);
    // Each removal is concurrent with a removal of its own writer: neither takes effect.
    expect([...index.membersAt([a.cid, b.cid]).roles]).toEqual([
      [W(0), "admin"],
      [W(1), "admin"],
    ]);
    // Each alone does.
    expect(index.membersAt([a.cid]).roles.has(W(1))).toBe(false);
    expect(index.membersAt([b.cid]).roles.has(W(0))).toBe(false);
  });

  it("admits anything in an unsigned ledger, until it is created", () => {
    const index = new MembershipIndex();
    const first = commit(undefined, []);
    admitAll(index, first, commit(5, [first.cid]));
    expect(index.admit(commit(5, [first.cid], add(1)))?.code).toBe("not-admin");
    expect(index.isSigned).toBe(false);
  });

  it("encodes records and refuses malformed ones", () => {
    for (const record of [CREATE, add(1, "admin"), remove(2)])
      expect(
        decodeMembershipRecord(encodeMembershipRecord(record), "r"),
      ).toEqual(record);
    const sealed: MembershipRecord = {
      op: "remove",
      key: key(1),
      keys: [{ to: key(2), box: new Uint8Array(80) }],
    };
    expect(decodeMembershipRecord(encodeMembershipRecord(sealed), "r")).toEqual(
      sealed,
    );
    const bad: unknown[] = [
      { op: "grant" },
      { op: "add", key: key(1) },
      { op: "add", key: new Uint8Array(31), role: "writer" },
      { op: "add", key: key(1), role: "owner" },
      { op: "create", extra: 1 },
      { op: "remove", key: key(1), keys: [{ to: key(1) }] },
    ];
    for (const value of bad)
      expect(() =>
        decodeMembershipRecord(
          encodeMembershipRecord(value as MembershipRecord),
          "r",
        ),
      ).toThrow(/membership record/);
  });
});

// Replicas are devices, each with one writer key. They change members and write
// concurrently, syncing pairs at random (a sync delivers what the other lacks, parents
// first; the receiver admits or refuses each). After everyone has synced with everyone,
// every replica derives the same members at its heads.
describe("membership convergence (seeded)", () => {
  it("replicas changing members concurrently converge", () => {
    const base = testSeed(process.env.KILN_SEED);
    console.log(`membership seed ${base} (reproduce with KILN_SEED=${base})`);
    for (let round = 0; round < 200; round++) {
      const seed = base + round;
      const random = createRandom(seed);
      const n = 4;
      const replicas = Array.from({ length: n }, () => ({
        index: new MembershipIndex(),
        log: [] as MemberCommit[],
        heads: [] as string[],
      }));
      const apply = (r: (typeof replicas)[number], c: MemberCommit) => {
        if (r.index.admit(c)) return false;
        r.log.push(c);
        r.heads = [
          ...r.heads.filter((h) => !c.parents.includes(h)),
          c.cid,
        ].sort();
        return true;
      };
      const sync = (from: number, to: number) => {
        let moved = false;
        for (const c of replicas[from]!.log)
          if (!replicas[to]!.index.has(c.cid))
            moved = apply(replicas[to]!, c) || moved;
        return moved;
      };
      const genesis = commit(0, [], CREATE);
      apply(replicas[0]!, genesis);
      for (let k = 1; k < n; k++)
        apply(
          replicas[0]!,
          commit(
            0,
            replicas[0]!.heads,
            add(k, random.pick(["writer", "admin"])),
          ),
        );
      for (let k = 1; k < n; k++) sync(0, k);
      for (let step = 0; step < 40; step++) {
        const i = random.int(n);
        const r = replicas[i]!;
        const role = r.index.membersAt(r.heads).roles.get(W(i));
        const roll = random.next();
        if (roll < 0.35) sync(i, random.int(n));
        else if (role === undefined) continue;
        else if (roll < 0.6 || role !== "admin") apply(r, commit(i, r.heads));
        else {
          const target = random.int(n + 1);
          apply(
            r,
            commit(
              i,
              r.heads,
              random.next() < 0.5
                ? remove(target)
                : add(target, random.pick(["writer", "admin"])),
            ),
          );
        }
      }
      for (let pass = 0, moved = true; moved && pass < 10; pass++) {
        moved = false;
        for (let a = 0; a < n; a++)
          for (let b = 0; b < n; b++) if (a !== b) moved = sync(a, b) || moved;
      }
      const view = (index: MembershipIndex, heads: readonly string[]) =>
        JSON.stringify([...index.membersAt(heads).roles].sort());
      const views = replicas.map((r) => view(r.index, r.heads));
      expect(new Set(views).size, `seed ${seed}: ${views.join(" | ")}`).toBe(1);
      // The same commits admitted in another order (any order with parents first) give
      // the same members, at the heads and at every commit.
      const r = replicas[random.int(n)]!;
      const shuffled = new MembershipIndex();
      const pending = [...r.log];
      while (pending.length > 0) {
        const ready = pending.filter((c) =>
          c.parents.every((p) => shuffled.has(p)),
        );
        const next = random.pick(ready);
        expect(shuffled.admit(next), `seed ${seed}`).toBeUndefined();
        pending.splice(pending.indexOf(next), 1);
      }
      expect(view(shuffled, r.heads), `seed ${seed}`).toBe(views[0]);
      for (const c of r.log) {
        expect(view(shuffled, [c.cid]), `seed ${seed}`).toBe(
          view(r.index, [c.cid]),
        );
        expect(shuffled.isVoid(c.cid), `seed ${seed}`).toBe(
          r.index.isVoid(c.cid),
        );
      }
    }
  });
});
