// The ledger's reads through its schema: get, has, allDocs, changes and query, each leaving
// out (or refusing) what fails the schema when there is one. Untyped here; Ledger<T> types them.
import { InvalidArgumentError } from "../util/errors.js";
import type { SerialQueue } from "../util/serial-queue.js";
import type { Doc } from "./doc.js";
import { checkId } from "./doc.js";
import type { DocReader } from "./doc-reader.js";
import type { IndexRegistry } from "./index-registry.js";
import type { LedgerLife } from "./ledger-life.js";
import type { MapFn, QueryOptions, QueryRow } from "./query.js";
import { allDocsRows, changeRows } from "./reads.js";
import type { AllDocsOptions, ChangesResult } from "./reads.js";
import type { SchemaGate } from "./schema-gate.js";
import type { StateLoader } from "./state-loader.js";

export interface GatedReadsParts {
  life: LedgerLife;
  loader: StateLoader;
  reader: DocReader;
  indexes: IndexRegistry;
  queue: SerialQueue;
  gate: SchemaGate | undefined;
}

export class GatedReads {
  readonly #p: GatedReadsParts;

  constructor(parts: GatedReadsParts) {
    this.#p = parts;
  }

  get(id: string, options: { conflicts?: boolean }): Promise<Doc> {
    return this.#p.life.guard(async () => {
      checkId(id);
      const conflicts = options.conflicts === true;
      const doc = await this.#p.reader.get(id, conflicts);
      const gate = this.#p.gate;
      if (!gate) return doc;
      if (!conflicts) return gate.read(doc);
      const { _conflicts: losers, ...winner } = doc;
      return {
        ...(await gate.read(winner)),
        _conflicts: await gate.passing(losers as Doc[]),
      };
    });
  }

  has(id: string): Promise<boolean> {
    return this.#p.life.guard(() => {
      checkId(id);
      return this.#p.reader.has(id);
    });
  }

  allDocs(
    options: AllDocsOptions,
  ): Promise<{ rows: { id: string; doc: Doc }[]; clock: string[] }> {
    const { loader, reader, gate } = this.#p;
    return this.#p.life.guard(async () => {
      const rows = await allDocsRows(loader.state, options, (id, cid) =>
        reader.at(id, cid),
      );
      return {
        rows: gate ? await gate.filter(rows) : rows,
        clock: loader.heads,
      };
    });
  }

  changes(
    since: readonly string[],
    options: { limit?: number },
  ): Promise<ChangesResult> {
    const { loader, reader, gate } = this.#p;
    return this.#p.life.guard(async () => {
      if (!Array.isArray(since))
        throw new InvalidArgumentError(
          "changes: since must be a clock (an array of commit cids)",
        );
      await loader.ready();
      const feed = await changeRows(
        loader.state,
        since,
        options.limit,
        (id, cid) => reader.at(id, cid),
      );
      if (gate) feed.rows = await gate.filterChanges(feed.rows);
      return feed;
    });
  }

  query(
    map: string | MapFn,
    options: QueryOptions,
  ): Promise<{ rows: QueryRow[] }> {
    const { queue, indexes, gate } = this.#p;
    if (!gate)
      return this.#p.life.guard(() =>
        queue.run(() => indexes.query(map, options)),
      );
    // The docs are needed to check them, even when the caller does not want them.
    const withDocs = { ...options, includeDocs: true };
    return this.#p.life.guard(async () => {
      const { rows } = await queue.run(() => indexes.query(map, withDocs));
      const passed = await gate.filter(rows);
      if (options.includeDocs === false)
        for (const row of passed) delete row.doc;
      return { rows: passed };
    });
  }
}
