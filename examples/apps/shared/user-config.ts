// Who is using this page, and the secrets their replica needs: the keys of their ledgers and
// a sync token. They come out of band — a per-user file served from loopback by the demo's
// static server (examples/apps/static-server.ts) — never in a URL a server sees: the page URL
// names only the user (`?user=alice`).
export interface UserConfig {
  /** The user's name, shown and recorded on what they write. */
  readonly user: string;
  /** What the user does in the app (trader, approver, partner, viewer…). */
  readonly role: string;
  /** Which approval field is this approver's (trade approval's approvers only). */
  readonly slot?: "first" | "second";
  /** The ledgers this user's token opens. */
  readonly ledgers: readonly string[];
  /** The key (base64url) of each of those ledgers, by name: no other key reaches the page. */
  readonly keys: Readonly<Record<string, string>>;
  /** A bearer token for kiln serve, scoped to those ledgers. */
  readonly token: string;
  /** kiln serve's URL. */
  readonly serverUrl: string;
  /** This user's local storage: one IndexedDB database per user, so two users can share a browser. */
  readonly storage: string;
}

export async function loadUserConfig(app: string): Promise<UserConfig> {
  const user = new URLSearchParams(location.search).get("user") ?? "";
  if (!/^[a-z0-9-]+$/.test(user))
    throw new Error("open this page with ?user=<name> (see npm run demo)");
  const response = await fetch(`/config/${app}/${user}.json`);
  if (!response.ok) throw new Error(`no configuration for user ${user}`);
  return (await response.json()) as UserConfig;
}

/** The key of `ledger` from this user's configuration; only their own ledgers' keys are in it. */
export function keyFor(config: UserConfig, ledger: string): string {
  const key = config.keys[ledger];
  if (key === undefined)
    throw new Error(`${config.user} holds no key for the ledger ${ledger}`);
  return key;
}
