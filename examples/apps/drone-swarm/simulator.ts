// The drone swarm's simulator (Node): drones in squads of `squadSize`, each squad a ledger of
// its own, every drone writing its position `hz` times a second. Each squad's ledger is
// connected push-only (`direction: "push"`): the simulator sends its fixes and never
// downloads anything. A squad whose link is down keeps recording — its outbox holds what the
// server has not acknowledged — and catches up when the link is back.
//
// Storage stays bounded: every `compactEvery` ticks a squad compacts (a checkpoint, and every
// commit the server has acknowledged let go), records its storage size in the squad's
// `stats` doc, and publishes a snapshot to kiln serve with retain "snapshot" (a new viewer
// starts from it, and the server drops the commits it covers).
import { openLedger } from "../../../src/index.js"; // "kiln" outside this repository
import type { Connection, Ledger } from "../../../src/index.js";
import type { UserConfig } from "../shared/user-config.js";
import { keyFor } from "../shared/user-config.js";
import { droneId, positionAt, STATS_ID } from "./drone.js";
import type { DronePosition, SquadStats } from "./drone.js";

export interface SwarmOptions {
  /** Drones in the swarm (default 100). */
  drones?: number;
  /** Drones per squad (default 10); the squads are the first ledgers of the config. */
  squadSize?: number;
  /** Position fixes per second (default 5); 0 writes only on tick(). */
  hz?: number;
  /** Compact and publish a snapshot every this many ticks (default 150: 30 s at 5 Hz). */
  compactEvery?: number;
  /** The simulator's storage (default an in-memory one). */
  storage?: string;
  /** Told of every background failure (a write, a compaction, a snapshot). */
  onError?: (error: unknown) => void;
}

export interface Swarm {
  readonly squads: readonly string[];
  /** Writes one fix of every drone, one commit per squad; resolves with its time when written locally. */
  tick(): Promise<number>;
  /** Takes a squad's link down (it keeps recording) or back up (it catches up). */
  link(squad: string, up: boolean): void;
  /** The latest storage stats of a squad. */
  stats(squad: string): SquadStats | undefined;
  /** Commits of a squad the server has not acknowledged (0 while its link is down: none counted). */
  pending(squad: string): number;
  /** Resolves once kiln serve holds every fix of the squads whose link is up. */
  synced(): Promise<void>;
  stop(): Promise<void>;
}

interface Squad {
  readonly name: string;
  readonly ledger: Ledger<DronePosition | SquadStats>;
  readonly drones: number[];
  connection: Connection | undefined;
  stats: SquadStats | undefined;
  compactions: number;
  ticks: number;
}

export async function startSwarm(
  config: UserConfig,
  options: SwarmOptions = {},
): Promise<Swarm> {
  const total = options.drones ?? 100;
  const size = options.squadSize ?? 10;
  const hz = options.hz ?? 5;
  const compactEvery = options.compactEvery ?? 150;
  const storage = options.storage ?? `memory://swarm-${process.pid}`;
  const onError = options.onError ?? ((e) => console.error("swarm:", e));
  const count = Math.ceil(total / size);
  if (count > config.ledgers.length)
    throw new Error(`${total} drones need ${count} squads`);

  const connect = (squad: Squad) => {
    const connection = squad.ledger.connect(config.serverUrl, {
      ...(config.token ? { token: config.token } : {}),
      direction: "push",
    });
    connection.on("error", onError);
    return connection;
  };
  const squads: Squad[] = [];
  for (const name of config.ledgers.slice(0, count)) {
    const first = squads.length * size;
    const squad: Squad = {
      name,
      ledger: await openLedger<DronePosition | SquadStats>(name, {
        storage,
        key: keyFor(config, name),
      }),
      drones: Array.from(
        { length: Math.min(size, total - first) },
        (_, i) => first + i,
      ),
      connection: undefined,
      stats: undefined,
      compactions: 0,
      ticks: 0,
    };
    squad.connection = connect(squad);
    squads.push(squad);
  }
  const byName = new Map(squads.map((s) => [s.name, s]));
  const find = (name: string) => {
    const squad = byName.get(name);
    if (!squad) throw new Error(`no squad ${name}`);
    return squad;
  };

  async function compact(squad: Squad): Promise<void> {
    await squad.ledger.compact();
    squad.compactions++;
    squad.stats = {
      storedBytes: await squad.ledger.storedBytes(),
      compactions: squad.compactions,
      ticks: squad.ticks,
      at: Date.now(),
    };
    await squad.ledger.put({ _id: STATS_ID, ...squad.stats });
    // A viewer that opens later starts from this snapshot, and kiln serve lets go of the
    // fixes it covers (retain: "snapshot"): the server's storage stays bounded too.
    if (squad.connection?.status.kind === "live")
      await squad.connection.publishSnapshot({ retain: "snapshot" });
  }

  async function write(squad: Squad, at: number): Promise<void> {
    await squad.ledger.bulk(
      squad.drones.map((n) => ({
        _id: droneId(n),
        ...positionAt(n, total, at),
        at,
      })),
    );
    squad.ticks++;
    if (squad.ticks % compactEvery === 0) void compact(squad).catch(onError);
  }

  const tick = async () => {
    const at = Date.now();
    await Promise.all(squads.map((s) => write(s, at)));
    return at;
  };
  let running: Promise<unknown> = Promise.resolve();
  const timer =
    hz > 0
      ? setInterval(() => {
          // A tick that is still writing makes the next one wait: fixes stay in order.
          running = running.then(tick).catch(onError);
        }, 1000 / hz)
      : undefined;

  return {
    squads: squads.map((s) => s.name),
    tick() {
      const next = running.then(tick);
      running = next.catch(() => undefined);
      return next;
    },
    link(name, up) {
      const squad = find(name);
      if (up && !squad.connection) squad.connection = connect(squad);
      if (!up && squad.connection) {
        void squad.connection.close().catch(onError);
        squad.connection = undefined;
      }
    },
    stats: (name) => find(name).stats,
    pending: (name) => find(name).connection?.pending ?? 0,
    async synced() {
      await Promise.all(
        squads.flatMap((s) => (s.connection ? [s.connection.synced()] : [])),
      );
    },
    async stop() {
      clearInterval(timer);
      await running.catch(() => undefined);
      for (const squad of squads) await squad.ledger.close();
    },
  };
}
