// Inviting and removing members (docs/security.md, "Invitations and key rotation"): the
// membership glue behind Ledger.invite() and Ledger.remove(), kept out of ledger.ts.
import type { CryptoProvider } from "../blocks/crypto.js";
import { encodeMembershipRecord } from "../trust/membership-record.js";
import type { Role } from "../trust/membership-record.js";
import { decodeWriter } from "../trust/signing.js";
import { InvalidArgumentError, MembershipError } from "../util/errors.js";
import type { GroupCommit } from "./group-commit.js";
import { encodeInvitation } from "./invitation.js";
import type { KeyRing } from "./key-ring.js";
import type { LedgerMembers } from "./ledger-members.js";
import type { StateLoader } from "./state-loader.js";

export interface LedgerTrustParts {
  ledger: string;
  members: LedgerMembers;
  ring: KeyRing;
  writes: GroupCommit;
  loader: StateLoader;
  crypto: CryptoProvider;
}

/**
 * Admits `writer` (base64url public key) as `role` with an `add` record, and returns the
 * invitation: the ledger's keys sealed for that writer, its `create` record pinned.
 */
export async function inviteMember(
  p: LedgerTrustParts,
  writer: string,
  role: Role,
): Promise<string> {
  const key = decodeWriter(writer, "invite");
  if (role !== "writer" && role !== "admin")
    throw new InvalidArgumentError('invite: role must be "writer" or "admin"');
  await p.loader.ready();
  // A membered ledger not written yet gets its `create` record first.
  if (!p.members.createRecord) {
    if (!p.members.isPendingCreate)
      throw new MembershipError(
        "not-admin",
        `invite: ledger ${p.ledger} is open (every key holder writes); create it with { members: true } to have members`,
      );
    await p.writes.change({ record: undefined });
  }
  await p.writes.change({
    record: encodeMembershipRecord({ op: "add", key, role }),
  });
  const keys = [{ record: undefined as string | undefined, key: p.ring.first }];
  for (const r of p.ring.rotated()) keys.push(r);
  const sealed = await Promise.all(
    keys.map(async (k) => ({
      record: k.record,
      box: (await p.members.sealFor([key], k.key))[0]!.box,
    })),
  );
  return encodeInvitation({
    ledger: p.ledger,
    create: p.members.createRecord!,
    keys: sealed,
  });
}

/**
 * Removes `writer` with a `remove` record that rotates the content key: a new key, sealed
 * for every remaining member, under which every commit descending from the removal is
 * sealed. Resolves with the clock after the removal.
 */
export async function removeMember(
  p: LedgerTrustParts,
  writer: string,
): Promise<string[]> {
  const key = decodeWriter(writer, "remove");
  await p.loader.ready();
  const members = p.members.membersAt(p.loader.state.clock.heads);
  if (!members || !p.members.createRecord)
    throw new MembershipError(
      "not-admin",
      `remove: ledger ${p.ledger} has no members (it is open)`,
    );
  if (members.roles[writer] === undefined)
    throw new InvalidArgumentError(`remove: ${writer} is not a member`);
  const remaining = Object.keys(members.roles)
    .filter((w) => w !== writer)
    .map((w) => decodeWriter(w));
  const fresh = p.crypto.randomBytes(32);
  const keys = await p.members.sealFor(remaining, fresh);
  return p.writes.change({
    record: encodeMembershipRecord({ op: "remove", key, keys }),
  });
}
