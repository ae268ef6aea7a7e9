// Child entry for S4 and the scale-out workload (Kiln only): a share of the fan-out clients,
// each a memory:// replica with its own WebSocket connection to a server (S4: the one server;
// scale-out: one of several processes). The coordinator spreads the clients over a few of
// these processes so the client side is not what limits the server.
//   node sync/fanout.mjs
import { monitorEventLoopDelay } from "node:perf_hooks";
import { makeDoc } from "../docs.mjs";
import * as kiln from "./adapters/kiln.mjs";
import { serveCalls } from "./rpc.mjs";
import { now, summarize } from "./timing.mjs";

/** { c, ledger, client, own: Set, seenIds: [], seenTs: [], seenSet: Set, writes: [[id, t]] } */
let clients = [];
let loaded = false;

async function ensureLoaded() {
  if (!loaded) await kiln.load();
  loaded = true;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

serveCalls(
  {
    /** Make each ledger once (and with it its key), so every client can share it. */
    async makeKeys({ names }) {
      await ensureLoaded();
      const keys = {};
      for (const name of names) {
        const c = await kiln.openClient({ name, host: "", port: 0 });
        keys[name] = c.shareKey;
        await c.close();
      }
      return { keys };
    },
    /**
     * Open this process's clients: [{ c, ledger, key, urls? }] (`urls`: that client's server
     * URLs, else ws://host:port); they subscribe at once.
     */
    async open({ assigned, host, port }) {
      await ensureLoaded();
      for (const { c, ledger, key, urls } of assigned) {
        const client = await kiln.openClient({
          name: ledger,
          host,
          port,
          key,
          ...(urls ? { urls } : {}),
        });
        const entry = {
          c,
          ledger,
          client,
          own: new Set(),
          seenSet: new Set(),
          seenIds: [],
          seenTs: [],
          writes: [],
        };
        client.onChange((ids) => {
          const t = now();
          for (const id of ids) {
            if (entry.own.has(id) || entry.seenSet.has(id)) continue;
            entry.seenSet.add(id);
            entry.seenIds.push(id);
            entry.seenTs.push(t);
          }
        });
        clients.push(entry);
      }
      return { opened: clients.length };
    },
    async connect() {
      for (const e of clients) e.client.connect();
      await Promise.all(clients.map((e) => e.client.caughtUp()));
      return {};
    },
    /**
     * Each client writes `perClient` docs at `rate` docs/s, from `startAt` (a timing.now()
     * value) plus its own phase, so the writes spread evenly. A write starts when it is due
     * (open loop: a slow put does not delay the next one). A client that falls more than
     * `lateCapMs` behind its schedule stops, so an overloaded run still ends in bounded time;
     * the writes it skipped are counted.
     */
    async run({ startAt, rate, seed, perClient, phases, lateCapMs }) {
      const period = 1000 / rate;
      let maxLateMs = 0;
      let skipped = 0;
      const puts = [];
      // how long this process's event loop was blocked: stalls vs. a lack of CPU
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      await Promise.all(
        clients.map(async (e) => {
          for (let k = 0; k < perClient; k++) {
            const due = startAt + phases[e.c] + k * period;
            await sleep(due - now());
            const t = now();
            if (t - due > lateCapMs) {
              skipped += perClient - k;
              return;
            }
            maxLateMs = Math.max(maxLateMs, t - due);
            const doc = makeDoc(seed, e.c * perClient + k);
            e.own.add(doc._id);
            e.writes.push([doc._id, t]);
            puts.push(e.client.put(doc));
          }
        }),
      );
      await Promise.all(puts);
      loop.disable();
      return {
        maxLateMs,
        skipped,
        loopDelayMaxMs: loop.max / 1e6,
        loopDelayP99Ms: loop.percentile(99) / 1e6,
      };
    },
    /**
     * Closed loop (scale-out P1): from `startAt` until `stopAt`, every client puts one doc,
     * waits for the server's acknowledgement of its commit (`conn.pending` back to 0, no
     * pull), and puts the next. Counts acknowledgements, and those that came back inside
     * [windowFrom, stopAt] with their put → acknowledgement times.
     */
    async hammer({ startAt, windowFrom, stopAt, seed }) {
      await sleep(startAt - now());
      let acked = 0;
      const inWindow = [];
      let lost = 0;
      await Promise.all(
        clients.map(async (e) => {
          for (let k = 0; now() < stopAt; k++) {
            const doc = makeDoc(seed, e.c * 1_000_000 + k);
            e.own.add(doc._id);
            const t = now();
            await e.client.put(doc);
            if (!(await e.client.acknowledged())) {
              lost++; // the connection closed: nothing more to count
              return;
            }
            const t1 = now();
            acked++;
            if (t1 >= windowFrom && t1 <= stopAt) inWindow.push(t1 - t);
          }
        }),
      );
      const l = summarize(inWindow);
      return { acked, inWindow: l.n, p50: l.p50, p99: l.p99, lost };
    },
    /** How many docs each client wrote. */
    written() {
      return { written: clients.map((e) => [e.c, e.ledger, e.writes.length]) };
    },
    /** How many other clients' docs each client has seen so far. */
    counts() {
      return { counts: clients.map((e) => [e.c, e.seenIds.length]) };
    },
    /** Everything recorded: writes with their times, arrivals with theirs. */
    collect() {
      return {
        clients: clients.map((e) => ({
          c: e.c,
          ledger: e.ledger,
          writes: e.writes,
          seenIds: e.seenIds,
          seenTs: e.seenTs,
        })),
      };
    },
    status() {
      const kinds = {};
      for (const e of clients) {
        const k = e.client.status().kind;
        kinds[k] = (kinds[k] ?? 0) + 1;
      }
      return { kinds };
    },
    async close() {
      const all = clients;
      clients = [];
      await Promise.all(all.map((e) => e.client.close()));
    },
  },
  async () => {
    await Promise.all(clients.map((e) => e.client.close()));
  },
);
