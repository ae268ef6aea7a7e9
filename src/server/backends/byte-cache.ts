// A cache of commit bytes bounded by their total size: recently written or read commits are
// served without a pread and a hash check. Least recently used entries go first.

export class ByteCache {
  // A Map iterates in insertion order: re-inserting on a hit keeps the oldest first.
  readonly #entries = new Map<string, Uint8Array>();
  #bytes = 0;

  constructor(readonly capacity: number) {}

  /** The cached bytes, shared: copy before handing them out. */
  get(key: string): Uint8Array | undefined {
    const bytes = this.#entries.get(key);
    if (bytes) {
      this.#entries.delete(key);
      this.#entries.set(key, bytes);
    }
    return bytes;
  }

  /** Keeps `bytes` (not copied: the caller gives them up). */
  set(key: string, bytes: Uint8Array): void {
    // One large commit must not flush everything else.
    if (bytes.length > this.capacity / 4) return;
    const old = this.#entries.get(key);
    if (old) {
      this.#bytes -= old.length;
      this.#entries.delete(key);
    }
    this.#entries.set(key, bytes);
    this.#bytes += bytes.length;
    for (const [oldest, value] of this.#entries) {
      if (this.#bytes <= this.capacity) break;
      this.#entries.delete(oldest);
      this.#bytes -= value.length;
    }
  }

  delete(key: string): void {
    const old = this.#entries.get(key);
    if (!old) return;
    this.#bytes -= old.length;
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }
}
