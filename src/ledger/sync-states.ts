// The ledger's record of every remote it has been connected to (sync/sync-state.ts), kept as
// one meta record beside the ledger. Compaction reads it: a commit some remote has not
// acknowledged is never dropped, however long that remote stays away.
import type { LocalStorage } from "../gateways/gateway.js";
import { decodeSyncStates, encodeSyncStates } from "../sync/sync-state.js";
import type { SyncState, SyncStates } from "../sync/sync-state.js";

const META_NAME = "sync";

export class SyncStateStore {
  readonly #local: LocalStorage;
  readonly #ledger: string;
  #states: Promise<SyncStates> | undefined;
  /** The loaded record, updated synchronously so concurrent set() calls compose. */
  #current: SyncStates | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(local: LocalStorage, ledger: string) {
    this.#local = local;
    this.#ledger = ledger;
  }

  all(): Promise<SyncStates> {
    this.#states ??= this.#local
      .getMeta(this.#ledger, META_NAME)
      .then((bytes) => {
        this.#current ??= bytes
          ? decodeSyncStates(bytes, `sync state of ${this.#ledger}`)
          : { remotes: {} };
        return this.#current;
      });
    // A failed read is retried next time rather than cached.
    this.#states.catch(() => (this.#states = undefined));
    return this.#states;
  }

  async get(remote: string): Promise<SyncState | undefined> {
    return (await this.all()).remotes[remote];
  }

  /** Records one remote's state; writes are serial, each replaces the whole record. */
  async set(remote: string, state: SyncState): Promise<void> {
    await this.all();
    const next: SyncStates = {
      remotes: { ...this.#current!.remotes, [remote]: state },
    };
    this.#current = next;
    this.#states = Promise.resolve(next);
    const write = this.#writing.then(() =>
      this.#local.putMeta(this.#ledger, META_NAME, encodeSyncStates(next)),
    );
    this.#writing = write.catch(() => undefined);
    await write;
  }
}
