// A membership record: the clear-text change of a ledger's members that a commit carries
// (envelope field `m`), signed with the commit by its writer. It names public keys and
// roles, never content, so every replica and the blind server read it alike.
//
//   { op: "create" }                               the writer is the ledger's first admin
//   { op: "add", key: bytes(32), role: "writer" | "admin" }   admit or change a role
//   { op: "remove", key: bytes(32) }               remove a member
//
// A record may also carry `keys`: the ledger's new content key sealed for each member (the
// key rotation of a removal, an invitation's wrapping), opaque here.
import * as dagCbor from "@ipld/dag-cbor";
import { CorruptError } from "../util/errors.js";
import { PUBLIC_KEY_BYTES } from "./signing.js";

export type Role = "writer" | "admin";

/** A content key sealed for one member's public key (see docs/format.md). */
export interface SealedKey {
  readonly to: Uint8Array;
  readonly box: Uint8Array;
}

export type MembershipRecord = (
  | { readonly op: "create" }
  | { readonly op: "add"; readonly key: Uint8Array; readonly role: Role }
  | { readonly op: "remove"; readonly key: Uint8Array }
) & { readonly keys?: readonly SealedKey[] };

/** Most sealed keys one record may carry (one per member). */
export const MAX_SEALED_KEYS = 4096;

export function encodeMembershipRecord(record: MembershipRecord): Uint8Array {
  return dagCbor.encode(record);
}

/** Parses and shape-checks a record; CorruptError naming `subject` otherwise. */
export function decodeMembershipRecord(
  bytes: Uint8Array,
  subject: string,
): MembershipRecord {
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch (error) {
    throw new CorruptError(subject, "membership record is not valid dag-cbor", {
      cause: error,
    });
  }
  const bad = (detail: string) =>
    new CorruptError(subject, `membership record ${detail}`);
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw bad("is not a map");
  const r = value as Record<string, unknown>;
  const allowed =
    r.op === "create"
      ? ["op", "keys"]
      : r.op === "add"
        ? ["op", "key", "role", "keys"]
        : r.op === "remove"
          ? ["op", "key", "keys"]
          : undefined;
  if (!allowed) throw bad("has no known op");
  for (const k of Object.keys(r))
    if (!allowed.includes(k)) throw bad(`has an unknown key ${k}`);
  if (r.op !== "create" && !isPublicKey(r.key))
    throw bad("key is not a 32-byte public key");
  if (r.op === "add" && r.role !== "writer" && r.role !== "admin")
    throw bad('role is not "writer" or "admin"');
  if (r.keys !== undefined) {
    if (
      !Array.isArray(r.keys) ||
      r.keys.length > MAX_SEALED_KEYS ||
      !r.keys.every(isSealedKey)
    )
      throw bad("keys are not a list of sealed keys");
  }
  return r as unknown as MembershipRecord;
}

function isPublicKey(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === PUBLIC_KEY_BYTES;
}

function isSealedKey(value: unknown): value is SealedKey {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Record<string, unknown>;
  return (
    Object.keys(s).length === 2 &&
    isPublicKey(s.to) &&
    s.box instanceof Uint8Array &&
    s.box.length <= 1024
  );
}
