// What the scale-out workload needs of Postgres itself, from the coordinator's process: is
// it reachable, a fresh schema per run (dropped after), the head updates it recorded, the
// CPU its processes used, and a reference rate of bare write transactions with and without
// NOTIFY (the ceiling the servers' pushes run into). Uses the `postgres` driver Kiln itself
// depends on (the repo's node_modules).
import { readdirSync, readFileSync } from "node:fs";
import { now } from "../sync/timing.mjs";

/** Every schema this workload makes starts so; a killed run's leftovers are dropped later. */
const PREFIX = "kiln_scale_";

/** The URL with its password hidden, for the report. */
export function shownUrl(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.href;
  } catch {
    return url;
  }
}

/** `base` with `?schema=…` set: what each `kiln serve --storage` gets. */
export function storageUrl(base, schema) {
  const u = new URL(base);
  u.searchParams.set("schema", schema);
  return u.href;
}

/**
 * Connects to `base` (postgres://user@host:port/database). Throws an Error whose message
 * starts "Postgres not reachable at …" when it cannot.
 */
export async function connectAdmin(base) {
  let postgres;
  try {
    postgres = (await import("postgres")).default;
  } catch (e) {
    throw new Error(
      `Postgres client not loadable (the repo's \`postgres\` package; run npm install in the repo root): ${e?.message ?? e}`,
    );
  }
  const sql = postgres(base, {
    max: 16,
    connect_timeout: 5,
    onnotice: () => {},
    idle_timeout: 5,
  });
  try {
    await sql`select 1`;
  } catch (e) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw new Error(
      `Postgres not reachable at ${shownUrl(base)}: ${e?.message ?? e}${e?.code && !String(e?.message).includes(e.code) ? ` (${e.code})` : ""}`,
    );
  }
  return sql;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

/** A fresh schema name for this run; drops those of earlier runs whose process is gone. */
export async function freshSchema(sql) {
  const rows =
    await sql`select nspname from pg_namespace where nspname like ${PREFIX + "%"}`;
  for (const { nspname } of rows) {
    const pid = Number(/^kiln_scale_(\d+)_/.exec(nspname)?.[1]);
    if (pid && pid !== process.pid && alive(pid)) continue;
    await sql`drop schema if exists ${sql(nspname)} cascade`;
  }
  return `${PREFIX}${process.pid}_${Date.now().toString(36)}`;
}

export async function dropSchema(sql, schema) {
  await sql`drop schema if exists ${sql(schema)} cascade`;
}

/**
 * Head updates Postgres has recorded in `schema`: every push that changed a ledger moves
 * its `ledgers.version` by one in the statement that stores it (the compare-and-swap), so
 * the sum counts accepted head updates, from every process. 0 before the first push.
 */
export async function headUpdates(sql, schema) {
  try {
    const [row] =
      await sql`select coalesce(sum(version), 0)::bigint as n from ${sql(schema)}.ledgers`;
    return Number(row.n);
  } catch (e) {
    if (e?.code === "42P01") return 0; // no table yet: no server has migrated
    throw e;
  }
}

/**
 * CPU seconds used so far by every process named `postgres` (the server and its backends),
 * including backends that have ended: the postmaster reaps them, so their time is in its
 * cutime/cstime, and a backend exiting between two samples does not make the difference drop.
 */
export function postgresCpu() {
  let total = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      if (!stat.includes("(postgres)")) continue;
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime, stime, cutime, cstime: fields 14-17
      total +=
        (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

/** CPU seconds the whole machine has been busy (all cores; not idle, not iowait). */
export function machineCpu() {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
    const [user, nice, system, , , irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return (user + nice + system + irq + softirq + steal) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Reference: bare write transactions per second on `connections` connections for `seconds`
 * — each `BEGIN; UPDATE one row; [pg_notify]; COMMIT` — with and without a NOTIFY. This is
 * the ceiling a push (a larger transaction with one NOTIFY) cannot pass on this Postgres.
 * Run from this process, so the driver's own CPU is part of it.
 */
export async function notifyCeiling(sql, schema, { seconds, connections }) {
  const table = sql(schema);
  await sql`create table if not exists ${table}.bench_ref (id int primary key, n bigint not null)`;
  await sql`insert into ${table}.bench_ref select g, 0 from generate_series(0, ${connections - 1}) g on conflict do nothing`;
  const channel = `${schema}_bench_ref`;
  const rate = async (notify) => {
    let n = 0;
    const stopAt = now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: connections }, async (_, i) => {
        while (now() < stopAt) {
          await sql.begin(async (tx) => {
            await tx`update ${table}.bench_ref set n = n + 1 where id = ${i}`;
            if (notify) await tx`select pg_notify(${channel}, ${String(i)})`;
          });
          n++;
        }
      }),
    );
    return n / seconds;
  };
  const withNotify = await rate(true);
  const withoutNotify = await rate(false);
  return { withNotify, withoutNotify };
}
