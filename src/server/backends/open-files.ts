// Caps how many ledger logs keep a file descriptor open: hundreds of ledgers must not mean
// hundreds of descriptors. The least recently used idle log closes its file first and opens
// it again on its next use (an open(2) costs microseconds).

export interface PooledFile {
  /** Closes the file unless a write is waiting on it; true when it is closed. */
  closeFileIfIdle(): boolean;
}

export class OpenFiles {
  // A Set iterates in insertion order: re-adding on use keeps the oldest first.
  readonly #open = new Set<PooledFile>();

  constructor(readonly max: number) {}

  /** Records that `file` has its descriptor open and was just used. */
  use(file: PooledFile): void {
    this.#open.delete(file);
    this.#open.add(file);
    if (this.#open.size <= this.max) return;
    for (const other of this.#open) {
      if (this.#open.size <= this.max) break;
      // A busy log stays open: the cap is exceeded briefly rather than a write delayed.
      if (other !== file && other.closeFileIfIdle()) this.#open.delete(other);
    }
  }

  /** Closes idle files over the cap: a burst of writes may have held more open. */
  trim(): void {
    for (const file of this.#open) {
      if (this.#open.size <= this.max) break;
      if (file.closeFileIfIdle()) this.#open.delete(file);
    }
  }

  forget(file: PooledFile): void {
    this.#open.delete(file);
  }

  get size(): number {
    return this.#open.size;
  }
}
