// file:///abs/path — a folder of ledgers, one subfolder each (docs/gateways.md has the layout
// and formats). Opens of the same folder in one process share one FileStore, so they see
// each other's writes and watch works between them. One process at a time may use a folder:
// the log index lives in memory and is not told about another process's appends.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { CID } from "../blocks/cid.js";
import {
  ClosedError,
  InvalidArgumentError,
  InvalidUrlError,
  IoError,
} from "../util/errors.js";
import { DIR_MODE, FileLog, type Durability } from "./file-log.js";
import type {
  Gateway,
  GatewayFactory,
  HeadSet,
  HeadUpdate,
  LocalStorage,
  Unsubscribe,
} from "./gateway.js";
import { HeadWatchers } from "./head-watchers.js";
import {
  readCheckpointFile,
  readMetaFile,
  writeMetaFile,
  readKeyFile,
  readWriterFile,
  createWriterFile,
  writeCheckpointFile,
  createKeyFile,
} from "./ledger-files.js";
import { checkMetaName } from "./ledger-name.js";
import { folderOfFileUrl } from "./file-url.js";
import { checkLedgerName, encodeLedgerName } from "../util/ledger-name.js";

export type { Durability } from "./file-log.js";

export interface FileGatewayOptions {
  /** Absolute, normalised folder path. */
  readonly dir: string;
  /**
   * "process": a write resolves once the OS has it (survives the process being killed, not
   * a power loss). "fsync": also after a group-committed fdatasync (survives power loss).
   */
  readonly durability: Durability;
}

/** `file:///dir`: a ledger's local storage in a folder (Node only). */
export const fileGateway: GatewayFactory<FileGatewayOptions> = {
  schemes: ["file:"],
  roles: ["storage"],
  parse(url) {
    const text = url.href;
    // The path rules first, shared with the folder remote: a bad path is refused before
    // its query is read.
    const dir = folderOfFileUrl(url);
    let durability: Durability = "process";
    const seen = new Set<string>();
    for (const [name, value] of url.searchParams) {
      if (name !== "durability")
        throw new InvalidUrlError(
          text,
          `unknown option ${JSON.stringify(name)} (known: durability)`,
        );
      if (seen.has(name))
        throw new InvalidUrlError(text, `option ${name} given twice`);
      seen.add(name);
      if (value !== "process" && value !== "fsync")
        throw new InvalidUrlError(
          text,
          `durability must be "process" or "fsync", not ${JSON.stringify(value)}`,
        );
      durability = value;
    }
    return { dir, durability };
  },
  async open(options) {
    if (!path.isAbsolute(options.dir))
      throw new InvalidArgumentError(
        `open file gateway: ${JSON.stringify(options.dir)} is not an absolute path`,
      );
    const dir = path.resolve(options.dir);
    let real: string;
    try {
      await fs.promises.mkdir(dir, { recursive: true, mode: DIR_MODE });
      // Shared by real path: two spellings of one folder (a symlink) must not get two stores,
      // whose logs would append to the same files with separate indexes.
      real = await fs.promises.realpath(dir);
    } catch (error) {
      throw new IoError(`open file gateway at ${dir}`, { cause: error });
    }
    let store = stores.get(real);
    if (!store) stores.set(real, (store = new FileStore(real)));
    store.handles++;
    const url =
      pathToFileURL(dir).href +
      (options.durability === "fsync" ? "?durability=fsync" : "");
    return new FileGateway(url, store, options.durability);
  },
};

/** One folder's open logs, shared by every handle on it in this process. */
class FileStore {
  readonly dir: string;
  readonly watchers = new HeadWatchers();
  handles = 0;
  readonly #logs = new Map<string, FileLog>();

  constructor(dir: string) {
    this.dir = dir;
  }

  ledgerDir(ledger: string): string {
    return path.join(this.dir, encodeLedgerName(ledger));
  }

  log(ledger: string): FileLog {
    let log = this.#logs.get(ledger);
    if (!log)
      this.#logs.set(
        ledger,
        (log = FileLog.load(this.ledgerDir(ledger), ledger)),
      );
    return log;
  }

  destroy(ledger: string): void {
    const log = this.#logs.get(ledger);
    this.#logs.delete(ledger);
    if (log) log.destroy();
    else fs.rmSync(this.ledgerDir(ledger), { recursive: true, force: true });
  }

  flush(): void {
    for (const log of this.#logs.values()) log.flush();
  }

  async close(): Promise<void> {
    const logs = [...this.#logs.values()];
    this.#logs.clear();
    await Promise.all(logs.map((log) => log.close()));
  }
}

const stores = new Map<string, FileStore>();

class FileGateway implements Gateway {
  readonly url: string;
  readonly local: LocalStorage;
  readonly #durability: Durability;
  #store: FileStore | undefined;

  constructor(url: string, store: FileStore, durability: Durability) {
    this.url = url;
    this.#store = store;
    this.#durability = durability;
    this.local = {
      getWriterKey: () =>
        attempt(() => readWriterFile(this.#open("get writer key").dir)),
      putWriterKey: (key) =>
        attempt(() => createWriterFile(this.#open("put writer key").dir, key)),
      getKey: (ledger) =>
        attempt(() =>
          readKeyFile(this.#ledgerDir("get key", ledger), subject(ledger)),
        ),
      putKey: (ledger, key) =>
        attempt(() =>
          createKeyFile(
            this.#ledgerDir("put key", ledger),
            key,
            subject(ledger),
          ),
        ),
      getCheckpoint: (ledger) =>
        attempt(() =>
          readCheckpointFile(
            this.#ledgerDir("get checkpoint", ledger),
            subject(ledger),
          ),
        ),
      putCheckpoint: (ledger, bytes) =>
        attempt(async () => {
          // A checkpoint summarises commits and heads already put: make those durable first,
          // so a power loss can never leave a checkpoint that is ahead of its log.
          await this.#log("put checkpoint", ledger).whenDurable("fsync");
          writeCheckpointFile(
            this.#ledgerDir("put checkpoint", ledger),
            bytes,
            subject(ledger),
          );
        }),
      getMeta: (ledger, name) =>
        attempt(() =>
          readMetaFile(
            this.#ledgerDir("get meta", ledger),
            checkMetaName(name),
            subject(ledger),
          ),
        ),
      putMeta: (ledger, name, bytes) =>
        attempt(() =>
          writeMetaFile(
            this.#ledgerDir("put meta", ledger),
            checkMetaName(name),
            bytes,
            subject(ledger),
          ),
        ),
      listCommits: (ledger) =>
        attempt(() => this.#log("list commits", ledger).listCommits()),
      retainCommits: (ledger, keep) =>
        attempt(() => this.#log("retain commits", ledger).retain(keep)),
      sizeOf: (ledger) => attempt(() => this.#sizeOf(ledger)),
      destroy: (ledger) =>
        attempt(() => {
          checkLedgerName("destroy", ledger);
          try {
            this.#open("destroy").destroy(ledger);
          } catch (error) {
            throw error instanceof ClosedError
              ? error
              : new IoError(`destroy ${subject(ledger)}`, { cause: error });
          }
        }),
    };
  }

  putCommit(ledger: string, cid: CID, bytes: Uint8Array): Promise<void> {
    return attempt(() =>
      this.#log("put commit", ledger).appendCommit(
        cid,
        bytes,
        this.#durability,
      ),
    );
  }

  getCommit(ledger: string, cid: CID): Promise<Uint8Array | undefined> {
    return attempt(() => this.#log("get commit", ledger).getCommit(cid));
  }

  getHeads(ledger: string): Promise<HeadSet> {
    return attempt(() => this.#log("get heads", ledger).heads);
  }

  putHeads(ledger: string, update: HeadUpdate): Promise<HeadSet> {
    return attempt(() => {
      const store = this.#open("put heads");
      const { heads, changed, done } = this.#log(
        "put heads",
        ledger,
      ).updateHeads(update, this.#durability);
      return done.then(() => {
        // Told only once written: a failed write is rolled back and never announced.
        if (changed) store.watchers.notify(ledger, this, heads);
        return heads;
      });
    });
  }

  watch(ledger: string, onHeads: (heads: HeadSet) => void): Unsubscribe {
    checkLedgerName("watch", ledger);
    return this.#open("watch").watchers.add(ledger, this, onHeads);
  }

  async close(): Promise<void> {
    const store = this.#store;
    if (!store) return;
    this.#store = undefined;
    store.watchers.removeOwner(this);
    store.flush();
    if (--store.handles > 0) return;
    // Removed before closing, so an open racing this close starts a fresh store, which reads
    // the files after this one has written everything (flush is synchronous).
    if (stores.get(store.dir) === store) stores.delete(store.dir);
    await store.close();
  }

  #open(operation: string): FileStore {
    if (!this.#store)
      throw new ClosedError(`${operation}: gateway ${this.url}`);
    return this.#store;
  }

  #log(operation: string, ledger: string): FileLog {
    checkLedgerName(operation, ledger);
    return this.#open(operation).log(ledger);
  }

  #ledgerDir(operation: string, ledger: string): string {
    checkLedgerName(operation, ledger);
    return this.#open(operation).ledgerDir(ledger);
  }

  #sizeOf(ledger: string): number {
    const log = this.#log("size of", ledger);
    const dir = this.#open("size of").ledgerDir(ledger);
    log.flush();
    try {
      let size = 0;
      for (const name of fs.readdirSync(dir))
        size +=
          fs.statSync(path.join(dir, name), { throwIfNoEntry: false })?.size ??
          0;
      return size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw new IoError(`size of ${subject(ledger)}`, { cause: error });
    }
  }
}

function subject(ledger: string): string {
  return `ledger ${JSON.stringify(ledger)}`;
}

// Every method reports failure as a rejection, never a synchronous throw.
function attempt<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(
      error instanceof Error ? error : new Error(String(error)),
    );
  }
}
