import { describe, expect, it } from "vitest";
import { checkDeletions } from "./write-commit.js";
import type { PreparedDoc } from "./write-commit.js";

const put = (id: string): PreparedDoc => ({ id, body: {}, block: undefined });
const del = (id: string): PreparedDoc => ({ id, body: null, block: undefined });
const write = (...docs: PreparedDoc[]) => ({ docs });

describe("checkDeletions", () => {
  it("accepts a group without deletions whole", () => {
    const writes = [write(put("a")), write(put("b"))];
    expect(checkDeletions(writes, () => false)).toEqual({
      accepted: writes,
      refused: [],
    });
  });

  it("counts earlier writes of the group, and refuses a failing write alone and whole", () => {
    const w1 = write(put("new"));
    const w2 = write(del("new"), del("old"));
    const w3 = write(put("x"), del("missing"));
    const w4 = write(del("old"));
    const w5 = write(del("old"));
    const { accepted, refused } = checkDeletions(
      [w1, w2, w3, w4, w5],
      (id) => id === "old",
    );
    expect(accepted).toEqual([w1, w2]);
    // w2 deleted "old"; w3 lacks "missing"; w4 and w5 find "old" already gone.
    expect(refused).toEqual([
      [w3, "missing"],
      [w4, "old"],
      [w5, "old"],
    ]);
  });

  it("sees a put earlier in the same write", () => {
    const w = write(put("a"), del("a"));
    expect(checkDeletions([w], () => false).accepted).toEqual([w]);
  });
});
