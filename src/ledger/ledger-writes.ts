// The ledger's write path: argument and read-only checks for put, bulk and del, the schema
// check in call order, and handing the prepared docs to the group commit.
import type { CryptoProvider } from "../blocks/crypto.js";
import { InvalidArgumentError, ReadOnlyError } from "../util/errors.js";
import type { DocInput } from "./doc.js";
import { checkDocBody, checkId } from "./doc.js";
import type { GroupCommit } from "./group-commit.js";
import type { LedgerLife } from "./ledger-life.js";
import type { SchemaGate } from "./schema-gate.js";
import { prepareDoc } from "./write-commit.js";
import type { PreparedDoc } from "./write-commit.js";

/** What put() and del() resolve with: the doc's id and the ledger's heads after the write. */
export interface WriteResult {
  id: string;
  clock: string[];
}

/** What bulk() resolves with: the ids written, in order, and the heads after the write. */
export interface BulkResult {
  ids: string[];
  clock: string[];
}

export interface LedgerWritesParts {
  life: LedgerLife;
  commits: GroupCommit;
  gate: SchemaGate | undefined;
  crypto: CryptoProvider;
  newId: () => string;
  /** The current heads, for a write of no docs. */
  clock: () => string[];
  /** Local writes are refused with a ReadOnlyError. */
  readOnly: boolean;
}

export class LedgerWrites {
  readonly #p: LedgerWritesParts;

  constructor(parts: LedgerWritesParts) {
    this.#p = parts;
  }

  put(doc: DocInput): Promise<WriteResult> {
    return this.#p.life.guard(async () => {
      this.#writable("put");
      const { ids, clock } = await this.#write([doc]);
      return { id: ids[0]!, clock };
    });
  }

  bulk(docs: readonly DocInput[]): Promise<BulkResult> {
    return this.#p.life.guard(() => {
      this.#writable("bulk");
      if (!Array.isArray(docs))
        throw new InvalidArgumentError("bulk: expected an array of docs");
      return this.#write(docs);
    });
  }

  del(id: string): Promise<WriteResult> {
    return this.#p.life.guard(async () => {
      this.#writable("del");
      checkId(id);
      const deletion = { id, body: null, block: undefined };
      const { gate, commits } = this.#p;
      // A deletion passes any schema, but waits behind writes still being checked.
      const clock = await (gate
        ? gate.admit([], () => commits.write([deletion]))
        : commits.write([deletion]));
      return { id, clock };
    });
  }

  /**
   * Checks, encodes and queues docs as one write. The write is queued synchronously when no
   * schema check is pending, so call order stays write order; with a schema, the schema's
   * outputs are written, still in call order when it checks asynchronously.
   */
  #write(docs: readonly DocInput[]): Promise<BulkResult> {
    const { newId, crypto, gate, commits } = this.#p;
    const write = async (prepared: PreparedDoc[]): Promise<BulkResult> => {
      if (prepared.length === 0) return { ids: [], clock: this.#p.clock() };
      const clock = await commits.write(prepared);
      return { ids: prepared.map((p) => p.id), clock };
    };
    if (!gate) return write(docs.map((d) => prepareDoc(d, newId, crypto)));
    // Ids are given before the check: the schema sees each doc as reads will return it.
    const withIds = docs.map((d) => {
      const given = (d as { _id?: unknown } | null | undefined)?._id;
      const id = given === undefined ? newId() : checkId(given);
      checkDocBody(d, id); // only JSON reaches the schema
      return { ...d, _id: id };
    });
    return gate.admit(withIds, (checked) =>
      write(checked.map((d) => prepareDoc(d, newId, crypto))),
    );
  }

  #writable(operation: string): void {
    if (this.#p.readOnly) throw new ReadOnlyError(this.#p.life.name, operation);
  }
}
