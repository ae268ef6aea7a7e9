// Backend failures reach clients as `unavailable` (retry later), never as `internal`: the
// guard turns every error a backend raises into a ProtocolError, keeping the original as the
// cause for the server log. A missing parent the backend finds itself stays missing-commit.
import { ProtocolError } from "../sync/protocol/index.js";
import { KilnError } from "../util/errors.js";
import type { Backend } from "./backend.js";

export function guardBackend(backend: Backend): Backend {
  const guard =
    <A extends unknown[], R>(operation: string, fn: (...args: A) => R) =>
    (...args: A): R => {
      let result: R;
      try {
        result = fn(...args);
      } catch (cause) {
        throw backendError(operation, cause);
      }
      return (
        result instanceof Promise
          ? result.catch((cause: unknown) => {
              throw backendError(operation, cause);
            })
          : result
      ) as R;
    };
  const uploads = backend.uploads;
  return {
    putCommits: guard("store commits", backend.putCommits.bind(backend)),
    getCommits: guard("read commits", backend.getCommits.bind(backend)),
    getMeta: guard("read commit meta", backend.getMeta.bind(backend)),
    getHeads: guard("read heads", backend.getHeads.bind(backend)),
    watch: guard("watch ledger", backend.watch.bind(backend)),
    ...(uploads
      ? {
          uploads: {
            minBytes: uploads.minBytes,
            presign: guard("presign uploads", uploads.presign.bind(uploads)),
            read: guard("read uploaded commits", uploads.read.bind(uploads)),
          },
        }
      : {}),
    close: () => backend.close(),
  };
}

function backendError(operation: string, cause: unknown): ProtocolError {
  if (cause instanceof ProtocolError) return cause;
  if (cause instanceof KilnError && cause.code === "missing-commit")
    return new ProtocolError("missing-commit", cause.message, { cause });
  return new ProtocolError(
    "unavailable",
    `storage failed to ${operation}; try again later`,
    { cause },
  );
}
