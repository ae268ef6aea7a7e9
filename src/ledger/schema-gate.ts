// A ledger's optional schema (any Standard Schema: zod, valibot, arktype…) applied at the
// API boundary. Local writes are checked before they are queued, so a doc failing it is
// refused and nothing is written. Docs merged from elsewhere cannot be refused (another
// replica wrote them), so reads check them: get() throws SchemaError, queries and live
// results leave them out, and each failing doc is reported once on the ledger's error event.
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { SchemaError } from "../util/errors.js";
import type { Doc } from "./doc.js";
import type { ChangesListener } from "./ledger-events.js";
import type { ChangeRow } from "./reads.js";

/**
 * A schema for a ledger's docs in Standard Schema form (zod, valibot and arktype schemas
 * are ones). It is given each doc as reads return it, `_id` included; its output is what
 * is stored and read (an `_id` the output lacks is put back).
 */
export type DocSchema<T extends object = object> = StandardSchemaV1<unknown, T>;

type Checked = { ok: true; doc: Doc } | { ok: false; error: SchemaError };

export class SchemaGate {
  readonly #schema: DocSchema;
  readonly #report: (error: SchemaError) => void;
  /** Ids of stored docs already reported as failing, so each is reported once. */
  readonly #reported = new Set<string>();
  /** Writes whose check is still running: later writes wait, to keep call order. */
  #pending = 0;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(schema: DocSchema, report: (error: SchemaError) => void) {
    this.#schema = schema;
    this.#report = report;
  }

  /**
   * Checks `docs` (each with its `_id`) and hands the schema's outputs to `write`, in call
   * order even when a schema checks asynchronously. A doc failing the schema rejects the
   * whole call before `write` runs: nothing is written.
   */
  admit<R>(
    docs: readonly Doc[],
    write: (docs: Doc[]) => Promise<R>,
  ): Promise<R> {
    if (this.#pending === 0) {
      const results = docs.map((d) => this.#check(d));
      if (results.every((r): r is Checked => !(r instanceof Promise)))
        return write(outputs(results));
    }
    this.#pending++;
    const turn = this.#tail.then(() =>
      Promise.all(docs.map(async (d) => this.#check(d))),
    );
    this.#tail = turn.catch(() => undefined);
    return turn
      .then((results) => write(outputs(results)))
      .finally(() => this.#pending--);
  }

  /** A stored doc as the schema reads it; SchemaError when it fails. */
  async read(doc: Doc): Promise<Doc> {
    const result = await this.#check(doc);
    if (!result.ok) throw result.error;
    return result.doc;
  }

  /** The schema's outputs of the docs that pass (order kept). */
  async passing(docs: readonly Doc[]): Promise<Doc[]> {
    const out: Doc[] = [];
    for (const doc of docs) {
      const result = await this.#check(doc);
      if (result.ok) out.push(result.doc);
    }
    return out;
  }

  /** The rows whose doc passes, with the schema's outputs as docs (order kept). */
  async filter<R extends { id: string; doc?: Doc }>(rows: R[]): Promise<R[]> {
    const out: R[] = [];
    for (const row of rows) {
      if (row.doc === undefined) {
        out.push(row);
        continue;
      }
      const result = await this.#check(row.doc);
      if (result.ok) out.push({ ...row, doc: result.doc });
    }
    return out;
  }

  /** Change rows with failing docs left out (deletions always pass). */
  async filterChanges(rows: ChangeRow[]): Promise<ChangeRow[]> {
    const out: ChangeRow[] = [];
    for (const row of rows) {
      if (!("doc" in row)) {
        out.push(row);
        continue;
      }
      const result = await this.#check(row.doc);
      if (result.ok) out.push({ id: row.id, doc: result.doc });
    }
    return out;
  }

  /**
   * A subscribe() listener that gets only rows passing the schema, and every reset notice;
   * a batch left empty by the check is not delivered.
   */
  listener(
    listener: ChangesListener,
    onError: (error: unknown) => void,
  ): ChangesListener {
    return (rows, info) => {
      this.filterChanges(rows).then((passed) => {
        if (passed.length > 0 || info.reset) listener(passed, info);
      }, onError);
    };
  }

  /**
   * Checks docs that just changed (merged or written): each failing doc is reported once,
   * until a version of it passes again.
   */
  watch(rows: ChangeRow[]): void {
    for (const row of rows) {
      if (!("doc" in row)) {
        this.#reported.delete(row.id);
        continue;
      }
      const settle = (result: Checked) => {
        if (result.ok) this.#reported.delete(row.id);
        else if (!this.#reported.has(row.id)) {
          this.#reported.add(row.id);
          this.#report(result.error);
        }
      };
      const result = this.#check(row.doc);
      if (result instanceof Promise) void result.then(settle);
      else settle(result);
    }
  }

  #check(doc: Doc): Checked | Promise<Checked> {
    const id = doc._id;
    let result;
    try {
      result = this.#schema["~standard"].validate(doc);
    } catch (cause) {
      return { ok: false, error: new SchemaError(id, [], { cause }) };
    }
    if (result instanceof Promise)
      return result.then(
        (r) => settled(id, r),
        (cause: unknown) => ({
          ok: false,
          error: new SchemaError(id, [], { cause }),
        }),
      );
    return settled(id, result);
  }
}

function settled(id: string, result: StandardSchemaV1.Result<object>): Checked {
  if (result.issues !== undefined)
    return { ok: false, error: new SchemaError(id, result.issues) };
  const value: unknown = result.value;
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return {
      ok: false,
      error: new SchemaError(id, [
        { message: "the schema's output is not an object" },
      ]),
    };
  // `_id` first, as reads return it; a schema that strips or rewrites it does not change it.
  const doc = { _id: id, ...value } as Doc;
  doc._id = id;
  return { ok: true, doc };
}

function outputs(results: readonly Checked[]): Doc[] {
  return results.map((r) => {
    if (!r.ok) throw r.error;
    return r.doc;
  });
}
