// Kiln's sync, against the API of the sync milestone:
//   const conn = ledger.connect("ws://host:port", { token }); conn.status; conn.pending;
//   await conn.synced(); await conn.close(); ledger.subscribe(rows => …)
// and its server, `kiln serve --port P --host H --storage memory://` (run by server.mjs from
// the same build, so BENCH_KILN_MODULE switches both; the scale-out workload passes a
// postgres:// storage instead). Replicas are `memory://` ledgers that share one key; the
// server never sees it.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { modulePath } from "../../systems/kiln.mjs";

export const id = "kiln";
/** conn.synced() tells when the server holds every local commit (S2, S3). */
export const ackedUpload = true;

let openLedger;

export async function load() {
  const path = modulePath();
  if (!existsSync(path))
    throw new Error(
      `Kiln is not built: ${path} is missing (run \`npm run build\` in the repo root)`,
    );
  const mod = await import(pathToFileURL(path).href);
  if (typeof mod.openLedger !== "function")
    throw new Error(
      `${path} does not export openLedger() (is the build complete?)`,
    );
  openLedger = mod.openLedger;
  let version = "?";
  try {
    version = JSON.parse(
      readFileSync(new URL("../../../package.json", import.meta.url), "utf8"),
    ).version;
  } catch {
    // version is cosmetic
  }
  return {
    version,
    note: "memory:// replicas, encrypted; `kiln serve --storage memory://`",
  };
}

/** Fails with "Kiln sync not available" when the build has no Ledger.connect() yet. */
export async function probe() {
  const ledger = await openLedger("probe", { storage: "memory://" });
  try {
    if (typeof ledger.connect !== "function")
      throw new Error(
        `Kiln sync not available: ${modulePath()} has no Ledger.connect() (the build predates the sync API)`,
      );
  } finally {
    await ledger.close();
  }
  const cli = join(dirname(modulePath()), "cli", "main.js");
  if (!existsSync(cli))
    throw new Error(`Kiln sync not available: ${cli} (kiln serve) is missing`);
}

/** Server side: run `kiln serve` in this process (server.mjs calls it). */
export async function serve({ host, port, storage = "memory://" }) {
  const cli = join(dirname(modulePath()), "cli", "main.js");
  const { main } = await import(pathToFileURL(cli).href);
  // `serve` prints "listening on http://HOST:PORT" itself and runs until it is signalled
  void main(
    ["serve", "--port", String(port), "--host", host, "--storage", storage],
    process.env,
  ).then(
    (code) => {
      if (code) {
        console.error(`kiln serve exited with code ${code}`);
        process.exit(code);
      }
    },
    (e) => {
      console.error(`kiln serve failed: ${e?.stack ?? e}`);
      process.exit(1);
    },
  );
  // server.mjs ends the process on close; no graceful shutdown is measured
  return { printsReady: true, close: async () => {} };
}

/**
 * Resolves once `conn` has no commit the server has not acknowledged (`conn.pending` is 0),
 * or it closed (false). The connection has no event for this, so one shared 1 ms ticker
 * checks every waiting connection of the process (cheap: a property read each).
 */
const ackWaiters = new Set();
let ackTicker;
function whenAcknowledged(conn) {
  if (conn.pending === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    ackWaiters.add({ conn, resolve });
    ackTicker ??= setInterval(() => {
      for (const w of ackWaiters) {
        const closed = w.conn.status.kind === "closed";
        if (w.conn.pending === 0 || closed) {
          ackWaiters.delete(w);
          w.resolve(!closed);
        }
      }
      if (ackWaiters.size === 0) {
        clearInterval(ackTicker);
        ackTicker = undefined;
      }
    }, 1);
  });
}

/**
 * One replica. `key` is another replica's `shareKey` (the ledger key), so both decrypt the
 * same commits; without it a new ledger (and key) is made. `urls` (several processes of one
 * server, tried in order) replaces `ws://host:port`.
 */
export async function openClient({ name, host, port, key, urls }) {
  const ledger = await openLedger(name, {
    storage: "memory://",
    ...(key === undefined ? {} : { key }),
  });
  let conn;
  const token = process.env.BENCH_KILN_TOKEN;
  const live = () => {
    if (!conn) throw new Error("not connected");
    return conn;
  };
  return {
    shareKey: ledger.key,
    connect() {
      conn = ledger.connect(
        urls ?? `ws://${host}:${port}`,
        token ? { token } : {},
      );
    },
    async put(doc) {
      await ledger.put(doc);
    },
    async putMany(docs) {
      await ledger.bulk(docs);
    },
    onChange(cb) {
      ledger.subscribe((rows, info) => {
        // A ledger that started from a snapshot gets one reset notice instead of a row per
        // doc: the docs are then read, so "seen" still means every doc was read.
        if (info?.reset)
          ledger.allDocs().then(({ rows: all }) => cb(all.map((r) => r.id)));
        else cb(rows.map((r) => r.id));
      });
    },
    /** The server acknowledged every local commit. */
    async uploaded() {
      await live().synced();
      if (live().pending !== 0)
        throw new Error(
          `synced() resolved with ${live().pending} commit(s) still pending`,
        );
    },
    /** The server acknowledged every local commit (no pull, unlike uploaded()). */
    acknowledged() {
      return whenAcknowledged(live());
    },
    /** Publishes the ledger's state as a snapshot (S5). */
    async publishSnapshot() {
      await live().publishSnapshot();
      return { bytes: undefined };
    },
    /** The first exchange with the server is done. */
    async caughtUp() {
      await live().synced();
    },
    status() {
      if (!conn) return { kind: "offline" };
      const { kind, error } = conn.status;
      return {
        kind,
        error: error && String(error?.message ?? error),
        pending: conn.pending,
      };
    },
    async count() {
      return (await ledger.allDocs()).rows.length;
    },
    async close() {
      await conn?.close();
      await ledger.close();
    },
  };
}
