// Where a scale-out backend keeps commit bytes when they are not in its database: a bucket.
// A blob store only moves bytes by key; the backend verifies them against their CID both
// ways (before a put, after a get), so a store never needs to be trusted with integrity.
import type { CID } from "../../blocks/cid.js";

export interface BlobStore {
  /** Stores a commit's bytes. Idempotent: a commit's key always holds the same bytes. */
  put(ledger: string, cid: CID, bytes: Uint8Array): Promise<void>;
  /** The bytes under the commit's key, undefined when there are none. Not verified. */
  get(ledger: string, cid: CID): Promise<Uint8Array | undefined>;
  /** Whether the commit's key holds bytes. */
  has(ledger: string, cid: CID): Promise<boolean>;
  /**
   * A URL a client may PUT the commit's bytes to directly, when the store offers that
   * (saving the server a copy of large commits). The bytes are verified when the commit is
   * recorded, not by the store.
   */
  presignUpload?(ledger: string, cid: CID): Promise<string>;
  /** What to call the store in messages (never credentials). */
  readonly description: string;
}
