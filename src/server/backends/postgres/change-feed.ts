// Watchers of a Postgres backend, fed from two sides: this process's own puts, reported as
// soon as they commit (with their bytes and origin, as every backend does), and notices from
// the LISTEN connection, which carry every process's puts. A put's notices name the backend
// instance and the put, so its own are recognised and not reported twice; a put whose outcome
// was lost with its connection is reported when its notice comes, since the notice proves it
// committed.
//
// A change made elsewhere is reported with heads read after the notice came, so they are at
// least as new as the change; reads of one ledger run one at a time, so its watchers never
// see heads go back. After a lost LISTEN connection every watched ledger is re-read and
// reported with its heads (and no `added`: the notices that named them are gone; a
// subscriber catches up from the heads).
import { CID } from "../../../blocks/cid.js";
import { backoffDelay, sleep } from "../../../util/backoff.js";
import { CorruptError } from "../../../util/errors.js";
import { SerialQueue } from "../../../util/serial-queue.js";
import type { LedgerChange, StoredCommit } from "../../backend.js";
import { ledgerKey } from "../blob-store-key.js";
import { LedgerWatchers } from "../ledger-watchers.js";
import { decodeLedgerNotice, NoticeAssembler } from "./ledger-notice.js";

export interface ChangeFeedOptions {
  /** Names this backend instance in its notices. */
  readonly sender: string;
  /** The heads of a ledger changed elsewhere, with the added commits when cheap to load. */
  read(
    ledger: string,
    added: readonly CID[],
  ): Promise<{ heads: CID[]; commits?: StoredCommit[] }>;
  /** A failure in the background (a notice that cannot be read, a re-read that failed). */
  onError(error: Error): void;
}

interface WatchedLedger {
  readonly ledger: string;
  count: number;
  /** Re-reads of this ledger, one at a time, in notice order. */
  readonly reads: SerialQueue;
}

/** Where an own put is: its notices may come before or after its COMMIT returns. */
type OwnPut = "pending" | "notified" | "reported";

const READ_ATTEMPTS = 4;

export class ChangeFeed {
  readonly #options: ChangeFeedOptions;
  readonly #watchers = new LedgerWatchers();
  readonly #watched = new Map<string, WatchedLedger>();
  readonly #own = new Map<number, OwnPut>();
  readonly #assembler = new NoticeAssembler();
  #seq = 0;
  #closed = false;

  constructor(options: ChangeFeedOptions) {
    this.#options = options;
  }

  get sender(): string {
    return this.#options.sender;
  }

  watch(ledger: string, onChange: (change: LedgerChange) => void): () => void {
    const key = ledgerKey(ledger);
    let entry = this.#watched.get(key);
    if (!entry) {
      entry = { ledger, count: 0, reads: new SerialQueue() };
      this.#watched.set(key, entry);
    }
    entry.count++;
    const stop = this.#watchers.add(ledger, onChange);
    let stopped = false;
    const watched = entry;
    return () => {
      if (stopped) return;
      stopped = true;
      stop();
      if (--watched.count === 0 && this.#watched.get(key) === watched)
        this.#watched.delete(key);
    };
  }

  /** Starts an own put; returns the number its notices carry. */
  begin(): number {
    const seq = ++this.#seq;
    this.#own.set(seq, "pending");
    return seq;
  }

  /** An own put committed: reports its change now. */
  committed(seq: number, ledger: string, change: LedgerChange): void {
    if (this.#own.get(seq) === "pending") this.#own.set(seq, "reported");
    else this.#own.delete(seq);
    this.#emit(ledger, change);
  }

  /**
   * An own put failed. When its notices came nonetheless it did commit (the connection was
   * lost after COMMIT): `change` is reported then. Otherwise a notice coming later is
   * treated as another process's.
   */
  failed(seq: number, ledger: string, change: LedgerChange | undefined): void {
    const state = this.#own.get(seq);
    this.#own.delete(seq);
    if (state === "notified" && change) this.#emit(ledger, change);
  }

  onNotice(payload: string): void {
    if (this.#closed) return;
    const notice = decodeLedgerNotice(payload);
    if (!notice) {
      this.#options.onError(
        new CorruptError(
          "ledger notice",
          `not a kiln notice: ${JSON.stringify(payload.slice(0, 80))}`,
        ),
      );
      return;
    }
    const whole = this.#assembler.add(notice);
    if (!whole) return;
    if (whole.sender === this.#options.sender) {
      const state = this.#own.get(whole.seq);
      if (state === "pending") return void this.#own.set(whole.seq, "notified");
      if (state === "reported") return void this.#own.delete(whole.seq);
    }
    const entry = this.#watched.get(whole.ledgerKey);
    if (!entry) return;
    let added: CID[];
    try {
      added = whole.cids.map((text) => CID.parse(text));
    } catch (cause) {
      this.#options.onError(
        new CorruptError("ledger notice", "unreadable cid", { cause }),
      );
      return;
    }
    this.#refresh(entry, added);
  }

  /** The LISTEN connection was lost and is back: notices may have been missed. */
  onRelisten(): void {
    if (this.#closed) return;
    // Notices of puts reported already were lost with the connection, or come on the new
    // one, where an unknown own notice is reported again (harmless, never missing).
    for (const [seq, state] of this.#own)
      if (state === "reported") this.#own.delete(seq);
    this.#assembler.clear();
    for (const entry of this.#watched.values()) this.#refresh(entry, []);
  }

  close(): void {
    this.#closed = true;
    this.#watchers.clear();
    this.#watched.clear();
    this.#own.clear();
    this.#assembler.clear();
  }

  #emit(ledger: string, change: LedgerChange): void {
    if (!this.#closed) this.#watchers.emit(ledger, change);
  }

  #refresh(entry: WatchedLedger, added: readonly CID[]): void {
    const isWatched = () =>
      !this.#closed && this.#watched.get(ledgerKey(entry.ledger)) === entry;
    void entry.reads.run(async () => {
      for (let attempt = 0; isWatched(); attempt++) {
        try {
          const { heads, commits } = await this.#options.read(
            entry.ledger,
            added,
          );
          if (isWatched())
            this.#emit(entry.ledger, {
              heads,
              added: [...added],
              ...(commits ? { commits } : {}),
            });
          return;
        } catch (error) {
          if (attempt + 1 >= READ_ATTEMPTS) {
            // Given up: the ledger's watchers hear of it at its next change, or after the
            // LISTEN connection comes back if Postgres was down.
            this.#options.onError(error as Error);
            return;
          }
          await sleep(backoffDelay(attempt, { baseMs: 100, maxMs: 2000 }));
        }
      }
    });
  }
}
