import { describe, expect, it } from "vitest";
import {
  decodeLedgerNotice,
  encodeLedgerNotices,
  NOTICE_BYTES,
  NoticeAssembler,
} from "./ledger-notice.js";

const cid = (i: number) =>
  `bafyreib${String(i).padStart(51, "a")}`.slice(0, 59);

describe("ledger notices", () => {
  it("round-trips a small put in one notice", () => {
    const [payload, ...rest] = encodeLedgerNotices("s1", 7, "orders", [
      cid(1),
      cid(2),
    ]);
    expect(rest).toEqual([]);
    expect(decodeLedgerNotice(payload!)).toEqual({
      sender: "s1",
      seq: 7,
      part: 1,
      parts: 1,
      ledgerKey: "orders",
      cids: [cid(1), cid(2)],
    });
  });

  it("splits a large put into notices under the payload limit and joins them again in order", () => {
    const cids = Array.from({ length: 1000 }, (_, i) => cid(i));
    const key = "%C3%A9".repeat(33); // a long ledger key, as a non-ASCII name gives
    const payloads = encodeLedgerNotices("s1", 8, key, cids);
    expect(payloads.length).toBeGreaterThan(7);
    for (const p of payloads)
      expect(Buffer.byteLength(p)).toBeLessThanOrEqual(NOTICE_BYTES);
    const assembler = new NoticeAssembler();
    const results = payloads.map((p) => assembler.add(decodeLedgerNotice(p)!));
    expect(results.slice(0, -1).every((r) => r === undefined)).toBe(true);
    expect(results.at(-1)).toEqual({
      sender: "s1",
      seq: 8,
      ledgerKey: key,
      cids,
    });
  });

  it("ignores what is not a kiln notice", () => {
    for (const payload of [
      "",
      "hello",
      "k1 s 1 1/1 l",
      "k2 s 1 1/1 l\nx",
      "k1 s x 1/1 l\nx",
      "k1 s 1 2/1 l\nx",
      "k1 s 1 0/1 l\nx",
      "k1 s 1 1/1 l extra\nx",
    ])
      expect(decodeLedgerNotice(payload), payload).toBeUndefined();
  });
});
