// One base class with a code union; subclasses carry their subject. Messages are lowercase,
// name the operation and its subject, and never contain key material or document plaintext.
import type { StandardSchemaV1 } from "@standard-schema/spec";

/** Every error code a KilnError may carry. */
export type KilnErrorCode =
  | "not-found"
  | "invalid-doc"
  | "invalid-id"
  | "doc-too-large"
  | "invalid-url"
  | "invalid-key"
  | "missing-key"
  | "decrypt"
  | "integrity"
  | "corrupt"
  | "format-version"
  | "read-only"
  | "closed"
  | "missing-commit"
  | "invalid-argument"
  | "io"
  | "quota"
  | "locked"
  | "protocol"
  | "transport"
  | "schema"
  | "signature"
  | "membership"
  | "snapshot"
  | "history-gone"
  | "unexpected";

/** The base of Kiln's errors: a `code` to switch on, and the `cause` when there is one. */
export class KilnError extends Error {
  readonly code: KilnErrorCode;
  constructor(
    code: KilnErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A doc id that is absent or deleted. */
export class NotFoundError extends KilnError {
  constructor(readonly id: string) {
    super("not-found", `get: no doc with id ${JSON.stringify(truncate(id))}`);
  }
}

/** Bytes that do not decrypt under the ledger key: a wrong key or tampered ciphertext. */
export class DecryptError extends KilnError {
  constructor(
    readonly cid: string,
    options?: { cause?: unknown },
  ) {
    super(
      "decrypt",
      `decrypt: commit ${cid} does not decrypt under this ledger's key (wrong key or tampered bytes)`,
      options,
    );
  }
}

/** Bytes whose hash does not match the CID they were stored or sent under. */
export class IntegrityError extends KilnError {
  constructor(
    readonly cid: string,
    detail = "bytes do not match their cid",
  ) {
    super("integrity", `verify: ${cid}: ${detail}`);
  }
}

/** Stored bytes that cannot be parsed (a truncated or damaged file, a malformed block). */
export class CorruptError extends KilnError {
  constructor(
    readonly subject: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super("corrupt", `read ${subject}: ${detail}`, options);
  }
}

/**
 * Bytes in a format version this code does not read: a commit, checkpoint or store written
 * by another version of Kiln. Refused, never misread; nothing stored is changed.
 */
export class FormatVersionError extends KilnError {
  constructor(
    readonly subject: string,
    readonly version: unknown,
  ) {
    super(
      "format-version",
      `read ${subject}: ${version === 1 ? "commit format v1 is no longer supported" : `format version ${typeof version === "number" ? `v${version}` : "(none)"} is not supported`}; this Kiln reads format v2`,
    );
  }
}

/** A local write to a ledger opened with `readOnly: true`, or to a view of its past (`at()`). */
export class ReadOnlyError extends KilnError {
  constructor(
    readonly ledger: string,
    operation: string,
    reason = "was opened read-only",
  ) {
    super(
      "read-only",
      `${operation}: ledger ${JSON.stringify(truncate(ledger))} ${reason}`,
    );
  }
}

/**
 * History this replica no longer holds: a commit that a view of the past (`ledger.at()`)
 * needs was let go by compaction (or the replica started from a snapshot after it, or never
 * held it). `cid` names the first such commit found.
 */
export class HistoryGoneError extends KilnError {
  constructor(
    readonly ledger: string,
    readonly cid: string,
    detail: string,
  ) {
    super(
      "history-gone",
      `at: ledger ${JSON.stringify(truncate(ledger))}: commit ${cid} ${detail}`,
    );
  }
}

/**
 * A commit whose writer's signature does not verify (forged, or altered after signing); it
 * is refused and nothing of its batch is stored.
 */
export class SignatureError extends KilnError {
  constructor(
    readonly cid: string,
    /** "bad": the signature does not verify; "unsigned": the commit carries none. */
    readonly problem: "bad" | "unsigned" = "bad",
  ) {
    super(
      "signature",
      problem === "unsigned"
        ? `verify: commit ${cid}: it is unsigned, and every commit must be signed by its writer`
        : `verify: commit ${cid}: its writer's signature does not verify`,
    );
  }
}

/**
 * A commit refused by the ledger's membership rule (docs/security.md, "Members"): its writer
 * was not a member (or, for a membership record, not an admin) at its parents, or it breaks
 * the ledger's one `create` record. Nothing of it is merged or stored; everything else still
 * syncs. `reason` is the rule's code; `cid` is absent for a local write refused before
 * sealing.
 */
export class MembershipError extends KilnError {
  constructor(
    readonly reason:
      | "unsigned"
      | "not-member"
      | "not-admin"
      | "second-creator"
      | "missing-parent",
    detail: string,
    readonly cid?: string,
  ) {
    super("membership", `membership: ${detail}`);
  }
}

/** A URL no registered gateway can use, or a malformed one. */
export class InvalidUrlError extends KilnError {
  constructor(
    readonly url: string,
    detail: string,
  ) {
    super("invalid-url", `open ${url}: ${detail}`);
  }
}

/** A doc or id that cannot be written: not JSON, a reserved field, too large, a bad id. */
export class InvalidDocError extends KilnError {
  constructor(
    code: "invalid-doc" | "invalid-id" | "doc-too-large",
    detail: string,
    readonly id?: string,
  ) {
    super(code, `write: ${detail}`);
  }
}

/** A ledger key that is malformed, or missing for a store that holds commits. */
export class KeyError extends KilnError {
  constructor(
    code: "invalid-key" | "missing-key",
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(code, detail, options);
  }
}

/** A call on a ledger or connection that is closed. */
export class ClosedError extends KilnError {
  constructor(readonly subject: string) {
    super("closed", `${subject} is closed`);
  }
}

/**
 * A snapshot refused: it claims a state this replica computes otherwise, or it cannot be
 * adopted here. The replica falls back to commits; nothing stored is changed.
 */
export class SnapshotError extends KilnError {
  constructor(
    readonly cid: string,
    detail: string,
  ) {
    super("snapshot", `snapshot ${cid}: ${detail}`);
  }
}

/** A head-set update naming a commit the gateway does not hold for that ledger. */
export class MissingCommitError extends KilnError {
  constructor(
    readonly ledger: string,
    readonly cid: string,
  ) {
    super(
      "missing-commit",
      `put heads of ${JSON.stringify(truncate(ledger))}: commit ${cid} is not held`,
    );
  }
}

/**
 * A doc that does not match its ledger's schema: a write refused before anything was
 * written, or a doc merged from another replica that reads refuse. `issues` are the
 * schema's own (messages and paths; values are left out of the message).
 */
export class SchemaError extends KilnError {
  constructor(
    readonly id: string,
    readonly issues: readonly StandardSchemaV1.Issue[],
    options?: { cause?: unknown },
  ) {
    const at = [
      ...new Set(
        issues.map((i) =>
          (i.path ?? [])
            .map((s) => String(typeof s === "object" ? s.key : s))
            .join("."),
        ),
      ),
    ]
      .filter((p) => p.length > 0)
      .slice(0, 8);
    const detail =
      options?.cause !== undefined
        ? "the schema threw"
        : at.length > 0
          ? `at ${at.join(", ")}`
          : (issues[0]?.message ?? "no issue given");
    super(
      "schema",
      `schema: doc ${JSON.stringify(truncate(id))} does not match the ledger's schema (${detail})`,
      options,
    );
  }
}

/** An argument a call cannot use (a bad option, a negative limit). */
export class InvalidArgumentError extends KilnError {
  constructor(detail: string) {
    super("invalid-argument", detail);
  }
}

/** A storage operation that failed (disk, IndexedDB), with its cause. */
export class IoError extends KilnError {
  constructor(operation: string, options?: { cause?: unknown }) {
    super("io", `${operation}: ${describe(options?.cause)}`, options);
  }
}

/** The browser's storage quota is full: the write is refused and nothing stored changes. */
export class QuotaError extends KilnError {
  constructor(operation: string, options?: { cause?: unknown }) {
    super(
      "quota",
      `${operation}: the storage quota is full (free space, or ask for persistent storage)`,
      options,
    );
  }
}

/**
 * A failure that is not one of Kiln's own (a third-party gateway's raw error, a listener that
 * threw) reported where only Kiln errors are: the original is its `cause`, never relabelled.
 */
export class UnexpectedError extends KilnError {
  constructor(operation: string, options: { cause: unknown }) {
    super("unexpected", `${operation}: ${describe(options.cause)}`, options);
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

function truncate(s: string): string {
  return s.length > 64 ? `${s.slice(0, 61)}...` : s;
}
