// Token revocations on Postgres (the Backend's revocation duty): a `revoked_tokens` table,
// and a channel of their own whose notices are token ids, so every process's RevocationSet
// hears a revocation made anywhere within a second. After a lost connection every id is
// read again.
import type postgres from "postgres";
import { checkTokenId, RevocationSet } from "../revocation-set.js";
import { NoticeListener } from "./notice-listener.js";
import { databaseError } from "./postgres-error.js";

export class PostgresRevocations {
  /** Fed by the channel's notices: every process's revocations. */
  readonly #set = new RevocationSet();
  readonly #sql: postgres.Sql;
  readonly #channel: string;
  #listener: NoticeListener | undefined;

  private constructor(sql: postgres.Sql, channel: string) {
    this.#sql = sql;
    this.#channel = channel;
  }

  /** Listens on `<schema>_revoked` through a LISTEN connection of its own. */
  static async open(
    sql: postgres.Sql,
    listenOptions: postgres.Options<Record<string, never>>,
    schema: string,
    onError: (error: Error) => void,
  ): Promise<PostgresRevocations> {
    const revocations = new PostgresRevocations(sql, `${schema}_revoked`);
    revocations.#listener = await NoticeListener.open({
      connection: listenOptions,
      channel: revocations.#channel,
      onNotice: (id) => revocations.#set.add(id),
      onRelisten: () => {
        sql`SELECT id FROM revoked_tokens`.then(
          (rows) => rows.forEach((r) => revocations.#set.add(r.id as string)),
          (error: unknown) =>
            onError(databaseError("read revoked tokens", error)),
        );
      },
      onError,
    });
    return revocations;
  }

  /** Records a revocation and tells every process, in one transaction. */
  async revoke(id: string): Promise<void> {
    checkTokenId(id);
    try {
      await this.#sql.begin(async (tx) => {
        await tx`INSERT INTO revoked_tokens (id) VALUES (${id}) ON CONFLICT DO NOTHING`;
        await tx`SELECT pg_notify(${this.#channel}, ${id})`;
      });
    } catch (error) {
      throw databaseError("revoke token", error);
    }
  }

  async list(): Promise<string[]> {
    try {
      const rows = await this.#sql`SELECT id FROM revoked_tokens`;
      return rows.map((r) => r.id as string);
    } catch (error) {
      throw databaseError("read revoked tokens", error);
    }
  }

  watch(onRevoked: (id: string) => void): () => void {
    return this.#set.watch(onRevoked);
  }

  async close(): Promise<void> {
    this.#set.clear();
    await this.#listener?.close();
  }
}
