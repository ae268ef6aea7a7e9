// A ledger's content keys (docs/security.md, "Invitations and key rotation"): the first key
// (the ledger key, kept by LocalStorage.putKey) and every key a removal rotated to since,
// by id (envelope field `k`). Rotated keys are kept in the meta record `keys`, sealed under
// the first key, so they sit beside it on disk no less protected.
import * as dagCbor from "@ipld/dag-cbor";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { LocalStorage } from "../gateways/gateway.js";
import { keyIdOf } from "../trust/key-box.js";
import { toBase64url } from "../util/bytes.js";
import { CorruptError, KeyError } from "../util/errors.js";

const META = "keys";

export class KeyRing {
  readonly first: Uint8Array;
  readonly #byId = new Map<string, Uint8Array>();
  /** The key each keyed membership record (a rotation) carries, by record CID. */
  readonly #byRecord = new Map<string, string>();
  readonly #crypto: CryptoProvider;
  readonly #local: LocalStorage;
  readonly #ledger: string;

  constructor(options: {
    first: Uint8Array;
    crypto: CryptoProvider;
    local: LocalStorage;
    ledger: string;
  }) {
    this.first = options.first;
    this.#crypto = options.crypto;
    this.#local = options.local;
    this.#ledger = options.ledger;
  }

  /** The key a commit's envelope names (`k`; none: the first key). */
  keyFor(id: Uint8Array | undefined): Uint8Array {
    if (!id) return this.first;
    const key = this.#byId.get(toBase64url(id));
    if (!key)
      throw new KeyError(
        "missing-key",
        `decrypt: sealed under key ${toBase64url(id)}, which this replica was never given (removed from the ledger?)`,
      );
    return key;
  }

  has(id: Uint8Array): boolean {
    return this.#byId.has(toBase64url(id));
  }

  /** The key rotation `record` (a commit CID) carries, if this replica holds it. */
  ofRecord(record: string): { key: Uint8Array; id: Uint8Array } | undefined {
    const id = this.#byRecord.get(record);
    const key = id && this.#byId.get(id);
    return key ? { key, id: keyIdOf(key) } : undefined;
  }

  /** Adds a key (from record `record`, when a rotation carried it) and keeps the ring. */
  async add(key: Uint8Array, record?: string): Promise<void> {
    const id = toBase64url(keyIdOf(key));
    const fresh =
      !this.#byId.has(id) ||
      (record !== undefined && !this.#byRecord.has(record));
    this.#byId.set(id, key);
    if (record !== undefined) this.#byRecord.set(record, id);
    if (fresh) await this.#save();
  }

  /** Every key but the first, with the record that carried it (for an invitation). */
  rotated(): { key: Uint8Array; record: string | undefined }[] {
    const records = new Map<string, string>();
    for (const [r, id] of this.#byRecord) records.set(id, r);
    return [...this.#byId].map(([id, key]) => ({
      key,
      record: records.get(id),
    }));
  }

  async load(): Promise<void> {
    const bytes = await this.#local.getMeta(this.#ledger, META);
    if (!bytes) return;
    const iv = bytes.subarray(0, 12);
    let plain: Uint8Array;
    try {
      plain = await this.#crypto.decrypt(
        this.first,
        iv,
        bytes.subarray(12),
        new Uint8Array(0),
      );
    } catch (error) {
      throw new CorruptError("key ring", "does not open under the ledger key", {
        cause: error,
      });
    }
    const value: unknown = dagCbor.decode(plain);
    if (!Array.isArray(value)) throw new CorruptError("key ring", "not a list");
    for (const row of value as unknown[]) {
      const [key, record] = row as [unknown, unknown];
      if (!(key instanceof Uint8Array) || key.length !== 32)
        throw new CorruptError("key ring", "a key is not 32 bytes");
      const id = toBase64url(keyIdOf(key));
      this.#byId.set(id, key);
      if (typeof record === "string") this.#byRecord.set(record, id);
    }
  }

  async #save(): Promise<void> {
    const rows = this.rotated().map((r) => [r.key, r.record ?? null]);
    const iv = this.#crypto.randomBytes(12);
    const sealed = await this.#crypto.encrypt(
      this.first,
      iv,
      dagCbor.encode(rows),
      new Uint8Array(0),
    );
    const out = new Uint8Array(12 + sealed.length);
    out.set(iv, 0);
    out.set(sealed, 12);
    await this.#local.putMeta(this.#ledger, META, out);
  }
}
