// A page that syncs ledgers with a SyncServer, driven by test/browser/sync.test.ts.
import { openLedger } from "../../../src/index.browser.js";
import type {
  Connection,
  DocInput,
  Ledger,
} from "../../../src/index.browser.js";

import { waitForIds } from "../wait-for-ids.js";

const ledgers = new Map<string, Ledger>();
const connections = new Map<string, Connection>();

async function ledger(name: string, key?: string): Promise<Ledger> {
  let found = ledgers.get(name);
  if (!found) {
    found = await openLedger(name, key ? { key } : {});
    ledgers.set(name, found);
  }
  return found;
}

function connection(name: string): Connection {
  const found = connections.get(name);
  if (!found) throw new Error(`ledger ${name} is not connected`);
  return found;
}

function describe(status: Connection["status"]): string {
  switch (status.kind) {
    case "live":
      return `live ${status.transport}`;
    case "backoff":
      return `backoff: ${status.error.message}`;
    case "follower":
      return `follower ${status.leader}${status.transport ? ` ${status.transport}` : ""}`;
    default:
      return status.kind;
  }
}

Object.assign(globalThis, {
  kiln: {
    async open(name: string, key: string) {
      await ledger(name, key);
    },
    async connect(name: string, url: string) {
      const l = await ledger(name);
      connections.set(
        name,
        l.connect(url, { backoff: { baseMs: 50, maxMs: 400 } }),
      );
    },
    async putAll(name: string, docs: DocInput[]) {
      const l = await ledger(name);
      for (const doc of docs) await l.put(doc);
    },
    async ids(name: string) {
      return (await (await ledger(name)).allDocs()).rows.map((r) => r.id);
    },
    /** Resolves once the ledger holds every id, seen through subscribe (no polling). */
    async waitFor(name: string, ids: string[]) {
      await waitForIds(await ledger(name), ids);
    },
    async synced(name: string) {
      await connection(name).synced();
    },
    status(name: string) {
      return describe(connection(name).status);
    },
    /** Resolves once the status reads `want` (as status() writes it). */
    async until(name: string, want: string) {
      const c = connection(name);
      if (describe(c.status) === want) return;
      await new Promise<void>((resolve) => {
        const stop = c.on("status", (status) => {
          if (describe(status) === want) {
            stop();
            resolve();
          }
        });
      });
    },
    /** Resolves when the connection is live (on the given transport). */
    async live(name: string, transport: string) {
      const c = connection(name);
      const isLive = () =>
        c.status.kind === "live" && c.status.transport === transport;
      if (isLive()) return;
      await new Promise<void>((resolve) => {
        const stop = c.on("status", () => {
          if (isLive()) {
            stop();
            resolve();
          }
        });
      });
    },
    /** Resolves when the connection is no longer live (the network went away). */
    async down(name: string) {
      const c = connection(name);
      if (c.status.kind !== "live") return;
      await new Promise<void>((resolve) => {
        const stop = c.on("status", (status) => {
          if (status.kind !== "live") {
            stop();
            resolve();
          }
        });
      });
    },
    pending(name: string) {
      return connection(name).pending;
    },
    async close() {
      await Promise.all([...ledgers.values()].map((l) => l.close()));
      ledgers.clear();
      connections.clear();
    },
  },
});
