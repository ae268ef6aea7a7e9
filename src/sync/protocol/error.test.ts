// Error reasons: each has an HTTP status, retryability follows from it, and a ProtocolError
// carries its reason as the wire code.
import { describe, expect, it } from "vitest";
import { KilnError } from "../../util/errors.js";
import {
  ERROR_REASONS,
  HTTP_STATUS,
  ProtocolError,
  isRetryable,
} from "./error.js";

describe("error reasons", () => {
  it("map to exactly one HTTP client or server error status each", () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...ERROR_REASONS].sort());
    for (const reason of ERROR_REASONS)
      expect(HTTP_STATUS[reason]).toBeGreaterThanOrEqual(400);
  });

  it("are retryable exactly when the server is at fault (5xx) or asks to slow down (429)", () => {
    for (const reason of ERROR_REASONS)
      expect(isRetryable(reason), reason).toBe(
        HTTP_STATUS[reason] >= 500 || HTTP_STATUS[reason] === 429,
      );
  });

  it("travel in a ProtocolError with the reason first in its message", () => {
    const cause = new Error("low level");
    const error = new ProtocolError("missing-commit", "parent x is not held", {
      cause,
    });
    expect(error).toBeInstanceOf(KilnError);
    expect(error.name).toBe("ProtocolError");
    expect(error.code).toBe("protocol");
    expect(error.reason).toBe("missing-commit");
    expect(error.message).toBe("missing-commit: parent x is not held");
    expect(error.cause).toBe(cause);
  });
});
