// Schema migrations: plain SQL files `NNN_name.sql` beside this module (`npm run build` copies
// them into dist), applied in version order when a backend opens. Each open runs one
// transaction holding an advisory lock on the schema's name, so processes starting together
// apply each file once; `kiln_migrations` records what was applied, with a checksum, so an
// edited or unknown migration stops the start instead of running against a schema it does not
// describe.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import type { Sql } from "postgres";
import { CorruptError } from "../../../util/errors.js";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

const FILE = /^(\d{3})_([a-z0-9_]+)\.sql$/;

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

/** Brings `schema` up to the last of `migrations`; returns the versions it applied. */
export async function migrate(
  sql: Sql,
  schema: string,
  migrations: readonly Migration[],
): Promise<number[]> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`kiln migrate ${schema}`}, 0))`;
    await tx`CREATE SCHEMA IF NOT EXISTS ${tx(schema)}`;
    await tx`SET LOCAL search_path TO ${tx(schema)}`;
    await tx`
      CREATE TABLE IF NOT EXISTS kiln_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`;
    const applied = await tx<
      { version: number; name: string; checksum: string }[]
    >`SELECT version, name, checksum FROM kiln_migrations ORDER BY version`;
    const subject = `postgres schema ${schema}`;
    for (const row of applied) {
      const known = migrations[row.version - 1];
      if (!known)
        throw new CorruptError(
          subject,
          `it is at migration ${row.version} (${row.name}), newer than this kiln knows (${migrations.length}): run a kiln at least as new`,
        );
      if (known.checksum !== row.checksum)
        throw new CorruptError(
          subject,
          `migration ${row.version}_${row.name}.sql differs from the one applied: migrations are never edited, add a new one`,
        );
    }
    const done: number[] = [];
    for (const m of migrations.slice(applied.length)) {
      await tx.unsafe(m.sql);
      await tx`INSERT INTO kiln_migrations (version, name, checksum) VALUES (${m.version}, ${m.name}, ${m.checksum})`;
      done.push(m.version);
    }
    return done;
  });
}
