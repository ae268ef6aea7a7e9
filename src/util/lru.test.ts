import { describe, expect, it } from "vitest";
import { Lru } from "./lru.js";

describe("Lru", () => {
  it("keeps at most its capacity and keeps entries in use", () => {
    const lru = new Lru<number, number>(100);
    for (let i = 0; i < 1000; i++) {
      lru.set(i, i);
      // 0 is read after every insert: it must survive all the churn.
      if (i > 0) expect(lru.get(0)).toBe(0);
      expect(lru.size).toBeLessThanOrEqual(100);
    }
    expect(lru.get(999)).toBe(999);
    expect(lru.get(1)).toBeUndefined();
  });
});
