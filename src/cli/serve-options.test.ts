import { describe, expect, it } from "vitest";
import { parseByteSize, parseServeOptions } from "./serve-options.js";

const base = {
  port: "0",
  host: "127.0.0.1",
  storage: "memory://",
  secret: undefined,
  verbose: false,
};

describe("kiln serve options", () => {
  it("reads a byte size with a binary unit, or none", () => {
    expect(parseByteSize("1048576")).toBe(1048576);
    expect(parseByteSize("512MiB")).toBe(512 * 2 ** 20);
    expect(parseByteSize("2 gib")).toBe(2 * 2 ** 30);
    expect(parseByteSize("1.5KiB")).toBe(1536);
    expect(parseByteSize("none")).toBe(Infinity);
    for (const bad of ["", "0", "-1", "1MB", "1e9", "lots", "0.1"])
      expect(parseByteSize(bad), bad).toBeUndefined();
  });

  it("passes --ledger-quota to the limits, and refuses a bad one as a usage error", () => {
    expect(parseServeOptions({ ...base, ledgerQuota: "8KiB" })).toMatchObject({
      limits: { ledgerQuota: 8192 },
    });
    expect(parseServeOptions({ ...base, ledgerQuota: "8KB" })).toMatch(
      /^--ledger-quota takes a size/,
    );
  });
});
