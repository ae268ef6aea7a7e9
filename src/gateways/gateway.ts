// The seam between a ledger and wherever its commits and heads are kept. A gateway is
// blind: it moves ciphertext commits named by their CIDs and a set of head CIDs per ledger,
// and never sees a key. Every gateway passes the exported conformance suite
// (gateway-conformance.ts).
import type { CID } from "../blocks/cid.js";

/** The heads of a ledger in one gateway: commit CIDs, sorted by their string form. */
export type HeadSet = readonly CID[];

/**
 * A head-set update. The gateway applies `next = (current \ remove) ∪ add` atomically.
 * `remove` names the heads the added commits supersede (their parents, as the writer saw
 * them). Every added CID must name a commit the gateway already holds.
 */
export interface HeadUpdate {
  add: readonly CID[];
  remove: readonly CID[];
}

/** Stops what a watch or subscription started. */
export type Unsubscribe = () => void;

/**
 * Where a ledger's commits and heads are kept: local storage (memory, file, indexeddb) or a
 * remote. Every gateway passes the exported conformance suite (`kiln/conformance`).
 */
export interface Gateway {
  /** The URL this gateway was opened from (normalised). */
  readonly url: string;
  /** Stores an immutable commit; storing the same CID again is a no-op. */
  putCommit(ledger: string, cid: CID, bytes: Uint8Array): Promise<void>;
  /** The bytes stored under `cid`, unverified (callers verify against the CID), or undefined. */
  getCommit(ledger: string, cid: CID): Promise<Uint8Array | undefined>;
  /** The ledger's current head set (empty for a ledger it does not hold). */
  getHeads(ledger: string): Promise<HeadSet>;
  /** Merges an update into the head set (adds the new, drops what they supersede); returns the new set. */
  putHeads(ledger: string, update: HeadUpdate): Promise<HeadSet>;
  /** Live push of head changes made by other writers, where the medium has it. */
  watch?(ledger: string, onHeads: (heads: HeadSet) => void): Unsubscribe;
  /** Local storage duties, present on gateways a ledger can be opened on. */
  readonly local?: LocalStorage;
  /** Releases what the gateway holds open; it is not used after. */
  close(): Promise<void>;
}

/**
 * What a ledger's own storage keeps besides commits and heads. Never used on a remote: a
 * shared folder connected as a remote must not receive the key.
 */
export interface LocalStorage {
  /**
   * The device's writer key (an Ed25519 private key seed as base64url), shared by every
   * ledger of this storage; undefined until one is put.
   */
  getWriterKey(): Promise<string | undefined>;
  /**
   * Stores `key` as the writer key unless one is stored already, readable by the owner only
   * (a 0600 file for file://); resolves to the key stored. The first key put is never replaced.
   */
  putWriterKey(key: string): Promise<string>;
  /** The ledger's key as stored (base64url), if there is one. */
  getKey(ledger: string): Promise<string | undefined>;
  /**
   * Stores `key` as the ledger's key unless one is stored already, readable by the owner only
   * (a 0600 file for file://); resolves to the key stored. The check and the write are one
   * atomic step, so two openers creating one ledger at once (two tabs) agree on one key.
   * A key is removed only with the ledger (`destroy`).
   */
  putKey(ledger: string, key: string): Promise<string>;
  /** The latest checkpoint blob (opaque to the gateway), or undefined. */
  getCheckpoint(ledger: string): Promise<Uint8Array | undefined>;
  /** Replaces the checkpoint atomically: a crash leaves the old or the new one whole. */
  putCheckpoint(ledger: string, bytes: Uint8Array): Promise<void>;
  /**
   * Small named records kept beside the ledger (sync state of each remote). `name` is
   * 1–64 characters of [a-z0-9-]. Replaced atomically, like the checkpoint.
   */
  getMeta(ledger: string, name: string): Promise<Uint8Array | undefined>;
  /** Stores a named record of the ledger (replacing one of the same name). */
  putMeta(ledger: string, name: string, bytes: Uint8Array): Promise<void>;
  /** Every commit CID held for the ledger. */
  listCommits(ledger: string): Promise<CID[]>;
  /** Compaction: drops every commit not in `keep`. Heads must all be in `keep`. */
  retainCommits(ledger: string, keep: ReadonlySet<string>): Promise<void>;
  /** Bytes the ledger occupies in this storage (for stats and benchmarks). */
  sizeOf(ledger: string): Promise<number>;
  /** Removes everything stored for the ledger, key included. */
  destroy(ledger: string): Promise<void>;
}

/** What a URL is used for: a ledger's own storage (openLedger), or a remote (connect). */
export type GatewayRole = "storage" | "remote";

/** Parses URLs of its schemes into typed options, then opens gateways from those options. */
export interface GatewayFactory<Options = unknown> {
  readonly schemes: readonly string[];
  /** What its URLs are for (default both). */
  readonly roles?: readonly GatewayRole[];
  /** Throws InvalidUrlError for anything it cannot use. */
  parse(url: URL): Options;
  /** Opens a gateway on options `parse` returned. */
  open(options: Options): Promise<Gateway>;
}
