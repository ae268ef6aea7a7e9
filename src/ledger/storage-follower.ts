// Follows the ledger's own storage: heads that another handle on it wrote — another tab of
// the origin on indexeddb:// (over its BroadcastChannel), another ledger handle on one
// memory room or file store — are merged from storage, so subscribe and live fire for those
// writes with no server. docs/gateways.md ("Tabs").
import { cidString } from "../blocks/cid.js";
import type { CID } from "../blocks/cid.js";
import type { Gateway, Unsubscribe } from "../gateways/gateway.js";

export interface StorageFollowerParts {
  readonly ledger: string;
  readonly storage: Gateway;
  /** Merges the commits up to `heads`, read from storage (their heads are stored already). */
  readonly merge: (heads: readonly CID[]) => Promise<unknown>;
  readonly onError: (error: unknown) => void;
}

/** Starts following; the returned function stops it. Storage without `watch` is not followed. */
export function followStorage(parts: StorageFollowerParts): Unsubscribe {
  const { storage, ledger } = parts;
  if (!storage.watch) return () => undefined;
  // Notifications that arrive while a merge runs are gathered into the next one. They are
  // united rather than replaced: two tabs' notifications may arrive out of commit order.
  let pending = new Map<string, CID>();
  let running = false;
  let stopped = false;
  const drain = async (): Promise<void> => {
    running = true;
    while (pending.size > 0 && !stopped) {
      const heads = [...pending.values()];
      pending = new Map();
      try {
        await parts.merge(heads);
      } catch (error) {
        if (!stopped) parts.onError(error);
      }
    }
    running = false;
  };
  const unwatch = storage.watch(ledger, (heads) => {
    for (const h of heads) pending.set(cidString(h), h);
    if (!running) void drain();
  });
  return () => {
    stopped = true;
    unwatch();
  };
}
