// Backend failures reach clients as `unavailable` (retry later), never as `internal`: the
// guard turns every error a backend raises into a ProtocolError naming the operation and the
// ledger, keeping the original (which names the file or table, and why) as the cause for the
// server log, which always prints it (issue 11: a full disk gave clients 503 and the operator
// nothing). A missing parent the backend finds itself stays missing-commit.
import { ProtocolError } from "../sync/protocol/index.js";
import { KilnError } from "../util/errors.js";
import type { Backend } from "./backend.js";

export function guardBackend(backend: Backend): Backend {
  const guard =
    <A extends unknown[], R>(operation: string, fn: (...args: A) => R) =>
    (...args: A): R => {
      // Every backend call but close takes the ledger first.
      const ledger = typeof args[0] === "string" ? args[0] : undefined;
      let result: R;
      try {
        result = fn(...args);
      } catch (cause) {
        throw backendError(operation, ledger, cause);
      }
      return (
        result instanceof Promise
          ? result.catch((cause: unknown) => {
              throw backendError(operation, ledger, cause);
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
    storedBytes: guard("count stored bytes", backend.storedBytes.bind(backend)),
    putSnapshot: guard("store a snapshot", backend.putSnapshot.bind(backend)),
    getSnapshot: guard("read a snapshot", backend.getSnapshot.bind(backend)),
    dropCommits: guard("drop commits", backend.dropCommits.bind(backend)),
    deleteLedger: guard("delete a ledger", backend.deleteLedger.bind(backend)),
    watch: guard("watch ledger", backend.watch.bind(backend)),
    // Token ids are not ledgers: these are guarded without naming one.
    revokeToken: (id) => guard("revoke token", () => backend.revokeToken(id))(),
    revokedTokens: guard("read revoked tokens", () => backend.revokedTokens()),
    watchRevocations: (onRevoked) =>
      guard("watch revocations", () => backend.watchRevocations(onRevoked))(),
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

/** A storage failure: `unavailable` to the client, with the operation, ledger and cause. */
export class StorageError extends ProtocolError {
  constructor(
    readonly operation: string,
    readonly ledger: string | undefined,
    cause: unknown,
  ) {
    super(
      "unavailable",
      `storage failed to ${operation}${ledger !== undefined ? ` of ledger ${JSON.stringify(ledger.slice(0, 64))}` : ""}; try again later`,
      { cause },
    );
  }
}

function backendError(
  operation: string,
  ledger: string | undefined,
  cause: unknown,
): ProtocolError {
  if (cause instanceof ProtocolError) return cause;
  if (cause instanceof KilnError && cause.code === "missing-commit")
    return new ProtocolError("missing-commit", cause.message, { cause });
  return new StorageError(operation, ledger, cause);
}
