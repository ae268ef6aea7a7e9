// A push rate limit per ledger and server process: a token bucket of bytes, refilled at
// `bytesPerSecond` up to `burst`. A push that would overdraw it is refused as `rate-limited`
// (HTTP 429, retryable: the client backs off and sends it again), so one authorized writer
// cannot flood a server's disk or its other clients' fan-out faster than the operator allows.
import { ProtocolError } from "../sync/protocol/index.js";

/** Buckets kept before idle (full) ones are dropped: a bound on this map's memory. */
const MAX_BUCKETS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class PushRate {
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    readonly bytesPerSecond: number,
    readonly burst: number,
    private readonly clock: () => number,
  ) {}

  /** Takes `bytes` from the ledger's bucket, or throws rate-limited taking nothing. */
  take(ledger: string, bytes: number): void {
    const now = this.clock();
    const bucket = this.#refill(ledger, now);
    // A push larger than the burst passes when the bucket is full, so none is refused forever.
    const cost = Math.min(bytes, this.burst);
    if (bucket.tokens < cost) {
      const wait = Math.ceil(
        ((cost - bucket.tokens) / this.bytesPerSecond) * 1000,
      );
      throw new ProtocolError(
        "rate-limited",
        `ledger ${JSON.stringify(ledger.slice(0, 64))} takes at most ${this.bytesPerSecond} pushed bytes a second (burst ${this.burst}); retry in ${wait} ms`,
      );
    }
    bucket.tokens -= cost;
  }

  #refill(ledger: string, now: number): Bucket {
    let bucket = this.#buckets.get(ledger);
    if (!bucket) {
      if (this.#buckets.size >= MAX_BUCKETS) this.#prune(now);
      bucket = { tokens: this.burst, at: now };
      this.#buckets.set(ledger, bucket);
      return bucket;
    }
    const elapsed = Math.max(0, now - bucket.at) / 1000;
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + elapsed * this.bytesPerSecond,
    );
    bucket.at = now;
    return bucket;
  }

  #prune(now: number): void {
    for (const [ledger, b] of this.#buckets)
      if (b.tokens + ((now - b.at) / 1000) * this.bytesPerSecond >= this.burst)
        this.#buckets.delete(ledger);
  }
}
