// Group commit for IndexedDB: writes queued in one turn of the event loop run in one
// readwrite transaction, in call order, and each resolves once that transaction completed
// (or rejects with the transaction's error when it aborted: then none of its writes landed).

/** One write: issues its requests on `tx`; may await them (then the next waits for it). */
export type WriteOp = (tx: IDBTransaction) => void | Promise<void>;

interface Queued {
  readonly operation: string;
  readonly op: WriteOp;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Most writes one transaction takes; the rest start the next one at once. */
const MAX_BATCH = 1000;

export class IdbBatch {
  readonly #db: IDBDatabase;
  readonly #stores: string[];
  readonly #durability: "strict" | "relaxed";
  readonly #toError: (operation: string, error: unknown) => Error;
  #queue: Queued[] = [];
  #scheduled = false;
  readonly #running = new Set<Promise<void>>();

  constructor(
    db: IDBDatabase,
    stores: string[],
    durability: "strict" | "relaxed",
    toError: (operation: string, error: unknown) => Error,
  ) {
    this.#db = db;
    this.#stores = stores;
    this.#durability = durability;
    this.#toError = toError;
  }

  add(operation: string, op: WriteOp): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ operation, op, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  /** Starts a transaction for everything queued (synchronously: reads created after see it). */
  flush(): void {
    this.#scheduled = false;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      const running = this.#run(batch);
      this.#running.add(running);
      void running.finally(() => this.#running.delete(running));
    }
  }

  /** Flushes, then waits for every transaction started to finish. */
  async drain(): Promise<void> {
    this.flush();
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  #run(batch: Queued[]): Promise<void> {
    let tx: IDBTransaction;
    try {
      tx = this.#db.transaction(this.#stores, "readwrite", {
        durability: this.#durability,
      });
    } catch (error) {
      for (const q of batch) q.reject(this.#toError(q.operation, error));
      return Promise.resolve();
    }
    // An op that throws (a missing commit, say) fails alone; its requests issued so far
    // are undone only if the store itself failed, which aborts the whole transaction.
    const failed = new Map<Queued, Error>();
    const done = new Promise<void>((resolve) => {
      tx.oncomplete = () => {
        for (const q of batch) {
          const error = failed.get(q);
          if (error) q.reject(error);
          else q.resolve();
        }
        resolve();
      };
      tx.onabort = () => {
        for (const q of batch)
          q.reject(failed.get(q) ?? this.#toError(q.operation, tx.error));
        resolve();
      };
    });
    void (async () => {
      for (const q of batch) {
        try {
          const result = q.op(tx);
          if (result) await result;
        } catch (error) {
          failed.set(q, this.#toError(q.operation, error));
        }
      }
    })();
    return done;
  }
}

/** An IDBRequest as a promise (settles inside the transaction's turn, keeping it active). */
export function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () =>
      reject(req.error ?? new Error("indexeddb request failed"));
  });
}
