// An invitation (docs/security.md, "Invitations and key rotation"): what `ledger.invite()`
// returns and `openLedger(name, { invitation })` takes, handed over out of band. It names the
// ledger and pins its `create` record, and carries every content key the ledger has used,
// each sealed for the invited writer's public key — never a raw key. Text: unpadded base64url
// of the dag-cbor map
//   { v: 1, ledger: text, create: CID, keys: [[rotation record CID | null, box(80)], …] }
// where the first key (the ledger key) has no record.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { KEY_BOX_BYTES } from "../trust/key-box.js";
import { fromBase64url, toBase64url } from "../util/bytes.js";
import { InvalidArgumentError } from "../util/errors.js";

export interface Invitation {
  readonly ledger: string;
  /** The CID of the ledger's `create` record. */
  readonly create: string;
  /** Each content key sealed for the invited writer; `record`: the rotation that made it. */
  readonly keys: readonly {
    readonly record: string | undefined;
    readonly box: Uint8Array;
  }[];
}

export function encodeInvitation(invitation: Invitation): string {
  return toBase64url(
    dagCbor.encode({
      v: 1,
      ledger: invitation.ledger,
      create: CID.parse(invitation.create),
      keys: invitation.keys.map((k) => [
        k.record === undefined ? null : CID.parse(k.record),
        k.box,
      ]),
    }),
  );
}

/** Parses an invitation for ledger `name`; InvalidArgumentError for anything else. */
export function decodeInvitation(text: string, name: string): Invitation {
  const bad = (detail: string) =>
    new InvalidArgumentError(`openLedger: the invitation ${detail}`);
  const bytes = typeof text === "string" ? fromBase64url(text) : undefined;
  if (!bytes) throw bad("is not base64url text");
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch {
    throw bad("is not an invitation");
  }
  const v = value as Record<string, unknown>;
  const create = CID.asCID(v.create);
  if (
    v.v !== 1 ||
    typeof v.ledger !== "string" ||
    !create ||
    !Array.isArray(v.keys)
  )
    throw bad("is not an invitation");
  if (v.ledger !== name)
    throw bad(
      `is for ledger ${JSON.stringify(v.ledger)}, not ${JSON.stringify(name)}`,
    );
  const keys = (v.keys as unknown[]).map((row) => {
    const [record, box] = (Array.isArray(row) ? row : []) as unknown[];
    const r = record === null ? undefined : CID.asCID(record);
    if (
      r === null ||
      !(box instanceof Uint8Array) ||
      box.length !== KEY_BOX_BYTES
    )
      throw bad("holds a malformed key");
    return { record: r?.toString(), box };
  });
  if (keys.filter((k) => k.record === undefined).length !== 1)
    throw bad("does not hold the ledger key");
  return { ledger: v.ledger, create: create.toString(), keys };
}
