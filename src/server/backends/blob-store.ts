// Where a scale-out backend keeps commit bytes when they are not in its database: a bucket.
// A blob store only moves bytes by key; the backend verifies them against their CID both
// ways (before a put, after a get), so a store never needs to be trusted with integrity.
import type { CID } from "../../blocks/cid.js";

export interface BlobStore {
  /** Stores a commit's bytes. Idempotent: a commit's key always holds the same bytes. */
  put(ledger: string, cid: CID, bytes: Uint8Array): Promise<void>;
  /**
   * The bytes under the commit's key, undefined when there are none. Not verified. With
   * `maxBytes`, a larger object is refused (ProtocolError too-large) without being read whole.
   */
  get(
    ledger: string,
    cid: CID,
    maxBytes?: number,
  ): Promise<Uint8Array | undefined>;
  /** Removes the commit's object; removing one that is not there is a no-op. */
  delete(ledger: string, cid: CID): Promise<void>;
  /** Whether the commit's key holds bytes. */
  has(ledger: string, cid: CID): Promise<boolean>;
  /**
   * A URL a client may PUT the commit's bytes to directly, when the store offers that
   * (saving the server a copy of large commits): short-lived, for the commit's key, and bound
   * to `size` and to the CID's SHA-256 where the store enforces signed headers. The client
   * sends the headers uploadHeaders() names. The server still reads the bytes back and
   * verifies them before it records the commit: not every store checks checksums.
   */
  presignUpload?(ledger: string, cid: CID, size: number): Promise<string>;
  /** What to call the store in messages (never credentials). */
  readonly description: string;
}
