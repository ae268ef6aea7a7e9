// Schema migrations: plain SQL files `NNN_name.sql` beside this module (`npm run build` copies
// them into dist), applied in version order when a backend opens. `kiln_migrations` records
// what was applied, with a checksum, so an edited or unknown migration stops the start
// instead of running against a schema it does not describe.
//
// The missing files are applied by one script sent as one simple query, which Postgres runs
// as one transaction: it takes an advisory lock on the schema's name, checks that no other
// process applied anything since this one looked, applies the files and records them. A
// process that lost that race looks again. (Not sql.begin(): a connection dying inside it
// can crash the process in postgres.js 3.4.9; see put-commits.ts.)
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import type { Sql } from "postgres";
import { CorruptError, IoError } from "../../../util/errors.js";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

const FILE = /^(\d{3})_([a-z0-9_]+)\.sql$/;
/** SQLSTATE the script raises when another process applied migrations first. */
const RACED = "40001";
const ATTEMPTS = 5;

/** The migrations shipped with this module, in version order. */
export async function readMigrations(
  dir: URL = new URL("./migrations/", import.meta.url),
): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => FILE.test(f)).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const [, version, name] = FILE.exec(file)!;
    // Line endings normalized: a checkout with CRLF is the same migration.
    const sql = (await readFile(new URL(file, dir), "utf8")).replace(
      /\r\n/g,
      "\n",
    );
    migrations.push({
      version: Number(version),
      name: name!,
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
    });
  }
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new CorruptError(
        `migrations in ${dir.pathname}`,
        `expected version ${i + 1}, found ${m.version}_${m.name}.sql`,
      );
  });
  return migrations;
}

/**
 * Brings `schema` (a checked lowercase identifier) up to the last of `migrations`; returns
 * the versions this call applied.
 */
export async function migrate(
  sql: Sql,
  schema: string,
  migrations: readonly Migration[],
): Promise<number[]> {
  for (let attempt = 1; ; attempt++) {
    const applied = await appliedMigrations(sql, schema);
    check(schema, applied, migrations);
    const pending = migrations.slice(applied.length);
    if (pending.length === 0) return [];
    try {
      await sql.unsafe(script(schema, applied.length, pending));
      return pending.map((m) => m.version);
    } catch (error) {
      const raced =
        typeof error === "object" &&
        error !== null &&
        "code" in error &&
        error.code === RACED;
      if (!raced || attempt >= ATTEMPTS) throw error;
    }
  }
}

interface Applied {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
}

async function appliedMigrations(sql: Sql, schema: string): Promise<Applied[]> {
  const [found] = await sql<{ exists: boolean }[]>`
    SELECT to_regclass(${`${schema}.kiln_migrations`}) IS NOT NULL AS exists`;
  if (!found?.exists) return [];
  return sql<Applied[]>`
    SELECT version, name, checksum FROM ${sql(schema)}.kiln_migrations ORDER BY version`;
}

function check(
  schema: string,
  applied: readonly Applied[],
  migrations: readonly Migration[],
): void {
  const subject = `postgres schema ${schema}`;
  applied.forEach((row, i) => {
    const known = migrations[row.version - 1];
    if (!known)
      throw new CorruptError(
        subject,
        `it is at migration ${row.version} (${row.name}), newer than this kiln knows (${migrations.length}): run a kiln at least as new`,
      );
    if (known.checksum !== row.checksum)
      throw new CorruptError(
        subject,
        `migration ${String(row.version).padStart(3, "0")}_${row.name}.sql differs from the one applied: migrations are never edited, add a new one`,
      );
    if (row.version !== i + 1)
      throw new CorruptError(
        subject,
        `kiln_migrations skips from ${i} to ${row.version}`,
      );
  });
}

/**
 * One transaction (a simple query of several statements): lock, check nothing changed since
 * `seen` migrations were read, apply `pending`, record them. Every value in it is an
 * identifier or text this module checked, quoted.
 */
function script(
  schema: string,
  seen: number,
  pending: readonly Migration[],
): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema))
    throw new IoError(`migrate schema ${schema}`, {
      cause: new Error("not a plain identifier"),
    });
  const lines = [
    `SELECT pg_advisory_xact_lock(hashtextextended('kiln migrate ${schema}', 0));`,
    `CREATE SCHEMA IF NOT EXISTS "${schema}";`,
    `SET LOCAL search_path TO "${schema}";`,
    `CREATE TABLE IF NOT EXISTS kiln_migrations (
       version integer PRIMARY KEY,
       name text NOT NULL,
       checksum text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     );`,
    `DO $kiln$ BEGIN
       IF (SELECT count(*) FROM kiln_migrations) <> ${seen} THEN
         RAISE EXCEPTION 'kiln: another process applied migrations meanwhile'
           USING ERRCODE = '${RACED}';
       END IF;
     END $kiln$;`,
  ];
  for (const m of pending)
    lines.push(
      m.sql,
      // A file need not end its last statement with a semicolon.
      ";",
      `INSERT INTO kiln_migrations (version, name, checksum) VALUES (${m.version}, '${m.name}', '${m.checksum}');`,
    );
  return lines.join("\n");
}
