// The example apps' users: each one's role, and the ledgers their token opens — which are
// also the only ledgers whose keys reach their page. `npm run demo` and the apps' tests mint
// every user's configuration (keys, token) from this table with configsFor().
import { randomBytes } from "node:crypto";
import { signToken } from "../../src/server/index.js";
import type { UserConfig } from "./shared/user-config.js";

export interface AppUser {
  readonly role: string;
  /** Which approval field is this approver's (trade approval). */
  readonly slot?: "first" | "second";
  /** The ledgers this user's token opens, and whose keys they are given. */
  readonly ledgers: readonly string[];
  /** A read-only token when false (default: read and write). */
  readonly write?: boolean;
  /** False for a user that is a process, not a page (the drone simulator). */
  readonly page?: false;
}

export type AppUsers = Readonly<Record<string, AppUser>>;

/** The drone swarm's squads: 100 drones in 10 squads, a ledger each. */
export const SQUADS = Array.from({ length: 10 }, (_, i) => `squad-${i}`);

export const APPS: Readonly<Record<string, AppUsers>> = {
  "trade-approval": {
    tina: { role: "trader", ledgers: ["trades"] },
    alice: { role: "approver", slot: "first", ledgers: ["trades"] },
    bob: { role: "approver", slot: "second", ledgers: ["trades"] },
  },
  // Three partners share the shipments ledger; each also has a private one of their own.
  "supply-chain": {
    factory: { role: "partner", ledgers: ["shipments", "private-factory"] },
    carrier: { role: "partner", ledgers: ["shipments", "private-carrier"] },
    shop: { role: "partner", ledgers: ["shipments", "private-shop"] },
  },
  // The simulator writes the squads; the operator's page only reads them.
  "drone-swarm": {
    simulator: { role: "simulator", ledgers: SQUADS, page: false },
    ops: { role: "viewer", ledgers: SQUADS, write: false },
  },
};

/**
 * Mints each user's configuration: a token for their ledgers signed with the server's
 * secret, and the keys of those ledgers (one random key per ledger, the same for every user
 * of it). Each user's replica gets an IndexedDB database of its own.
 */
export function configsFor(
  app: string,
  users: AppUsers,
  server: { secret: string; url: string },
): Record<string, UserConfig> {
  const keys = new Map<string, string>();
  const keyOf = (ledger: string) => {
    if (!keys.has(ledger))
      keys.set(ledger, randomBytes(32).toString("base64url"));
    return keys.get(ledger)!;
  };
  const configs: Record<string, UserConfig> = {};
  for (const [user, { role, slot, ledgers, write = true }] of Object.entries(
    users,
  ))
    configs[user] = {
      role,
      ...(slot ? { slot } : {}),
      user,
      ledgers: [...ledgers],
      keys: Object.fromEntries(ledgers.map((l) => [l, keyOf(l)])),
      token: signToken(server.secret, { ledgers, write }),
      serverUrl: server.url,
      storage: `indexeddb://${app}-${user}`,
    };
  return configs;
}
