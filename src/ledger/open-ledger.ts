// openLedger: parse the storage URL, find or make the key, restore the merged state from
// the checkpoint and replay any commits written after it.
import type { CryptoProvider } from "../blocks/crypto.js";
import {
  createLedgerKey,
  decodeLedgerKey,
  encodeLedgerKey,
} from "../blocks/ledger-key.js";
import type { Compression } from "../blocks/compression.js";
import type { Checkpoint } from "./checkpoint.js";
import type { Gateway, LocalStorage } from "../gateways/gateway.js";
import type { Registry } from "../gateways/registry.js";
import {
  CorruptError,
  DecryptError,
  IntegrityError,
  InvalidArgumentError,
  InvalidUrlError,
  KeyError,
} from "../util/errors.js";
import { createSourcedState } from "./block-source.js";
import { decodeCheckpoint } from "./checkpoint.js";
import { createIdGenerator } from "./doc.js";
import type { DocFields } from "./doc.js";
import type { DocSchema } from "./schema-gate.js";
import { AUTO_CHECKPOINT_COMMITS, Ledger } from "./ledger.js";
import { replayCommits } from "./merger.js";
import { openWriterSeed } from "./open-writer.js";
import { CID } from "multiformats/cid";
import { openKeyBox } from "../trust/key-box.js";
import { decodeInvitation } from "./invitation.js";
import { KeyRing } from "./key-ring.js";
import { LedgerMembers } from "./ledger-members.js";
import type { SigningProvider } from "../trust/signing.js";
import type { Platform } from "./platform.js";

/** Options of openLedger(). */
export interface OpenLedgerOptions<T extends object = DocFields> {
  /**
   * Where the ledger lives, as a URL: file:///dir (Node; default ./.kiln), indexeddb://name
   * (browsers; default indexeddb://kiln), memory://, memory://name.
   */
  storage?: string;
  /** The ledger key (base64url), to open a replica of a ledger made elsewhere. */
  key?: string;
  /**
   * An invitation from `ledger.invite()` (docs/security.md, "Invitations and key rotation"):
   * joins a membered ledger — its keys, sealed for this storage's writer, are opened here,
   * and only the ledger its `create` record names is accepted. Writes wait until the
   * ledger's membership has synced (a `MembershipError` before).
   */
  invitation?: string;
  /**
   * Gateways by scheme, for storage and for connect() (default on Node: memory://, file://
   * and ws(s):// / http(s):// SyncServers, see createDefaultRegistry; in browsers
   * indexeddb:// in place of file://).
   */
  registry?: Registry;
  crypto?: CryptoProvider;
  /** Ed25519 for the device's writer and for checking others' signatures (default node:crypto). */
  signing?: SigningProvider;
  compression?: Compression;
  /**
   * Makes a new ledger membered (docs/security.md, "Members"): its first commit carries the
   * `create` record naming this device's writer its first admin, and from then on only
   * members write — others join through `invite()`. Without it a ledger is open: every
   * holder of its key writes. Read only when the store holds no commits of the ledger.
   */
  members?: boolean;
  /** Fewest doc writes between automatic checkpoints (default 20,000; see docs/format.md). */
  checkpointEvery?: number;
  /** Milliseconds since the epoch, for generated ids. */
  now?: () => number;
  /**
   * A schema for the docs, in Standard Schema form (zod, valibot, arktype). Writes failing
   * it are refused with a `SchemaError`; docs merged from elsewhere that fail it are
   * reported once on `on("error")`, refused by `get()` and left out of queries. The
   * ledger's doc type is inferred from it.
   */
  schema?: DocSchema<T>;
  /**
   * Refuses every local write (`put`, `bulk`, `del`) with a `ReadOnlyError`, for a replica
   * that only reads — one holding a read-only token, whose writes could never sync. Commits
   * merged from remotes still arrive, and `compact()` still works.
   */
  readOnly?: boolean;
}

/** The folder (under the working directory) a Node ledger is stored in by default. */
export const DEFAULT_STORAGE_DIR = ".kiln";

/**
 * Opens (or creates) the ledger `name` in `options.storage`, on a given platform; each entry
 * point exports it bound to its own as openLedger. `T` is the type of its docs:
 * `openLedger<Trade>("trades")`, or inferred from `options.schema`.
 */
export async function openLedgerOn<T extends object = DocFields>(
  platform: Platform,
  name: string,
  options: OpenLedgerOptions<T> = {},
): Promise<Ledger<T>> {
  if (typeof name !== "string" || name.length === 0 || name.length > 256)
    throw new InvalidArgumentError(
      "openLedger: name must be a non-empty string of at most 256 characters",
    );
  const crypto = options.crypto ?? platform.crypto;
  const registry = options.registry ?? platform.createRegistry();
  const url = options.storage ?? platform.defaultStorage();
  const explicitKey =
    options.key === undefined ? undefined : decodeLedgerKey(options.key);
  const gateway = await registry.open(url);
  if (!gateway.local) {
    await gateway.close();
    throw new InvalidUrlError(
      url,
      "this gateway cannot hold a ledger's own storage; connect it as a remote instead",
    );
  }
  const storage = gateway as Gateway & { local: LocalStorage };
  try {
    const heads = await storage.getHeads(name);
    const signing = options.signing ?? platform.signing;
    const seed = await openWriterSeed(storage.local, crypto);
    const writer = await signing.importSigner(seed);
    const invitation =
      options.invitation === undefined
        ? undefined
        : decodeInvitation(options.invitation, name);
    const invitedKeys = invitation
      ? await Promise.all(
          invitation.keys.map(async (k) => ({
            record: k.record,
            key: await openKeyBox(
              crypto,
              seed,
              k.box,
              CID.parse(invitation.create).bytes,
            ),
          })),
        )
      : [];
    const key = await findKey(
      storage.local,
      name,
      invitedKeys.find((k) => k.record === undefined)?.key ?? explicitKey,
      heads.length > 0,
      crypto,
    );
    const { state, blocks } = createSourcedState({
      storage,
      ledger: name,
      crypto,
      key,
    });
    const compression = options.compression ?? platform.compression;
    const checkpoint = await restoreCheckpoint(
      storage.local,
      name,
      crypto,
      key,
      compression,
    );
    if (checkpoint) blocks.useCheckpoint(checkpoint);
    // Heads that moved past the checkpoint (a crash before the next one) are replayed now.
    const current = heads.map((h) => h.toString()).sort();
    const covered = checkpoint ? checkpoint.heads.map((h) => h.cid).sort() : [];
    const upToDate =
      checkpoint !== undefined && current.join() === covered.join();
    if (checkpoint && !upToDate) {
      const { events, versions, merged } = await checkpoint.loadState(
        state.tree.entries(checkpoint.root),
      );
      state.restore(events, versions, checkpoint.root, merged);
    } else if (checkpoint) state.restoreRoot(checkpoint.root);
    const ring = new KeyRing({
      first: key,
      crypto,
      local: storage.local,
      ledger: name,
    });
    await ring.load();
    for (const k of invitedKeys)
      if (k.record !== undefined) await ring.add(k.key, k.record);
    blocks.keys = (id) => ring.keyFor(id);
    const members = new LedgerMembers({
      ledger: name,
      local: storage.local,
      writer: writer.publicKey,
      pendingCreate:
        options.members === true && heads.length === 0 && !invitation,
      ring,
      seed,
      aead: crypto,
    });
    await members.load(storage, heads);
    if (invitation) await members.pin(invitation.create);
    const replayed = upToDate
      ? 0
      : await replayCommits(state, blocks, heads, (cid) => members.isVoid(cid));
    return new Ledger<T>({
      name,
      storage,
      registry,
      tabLink: platform.tabLink
        ? (remoteId: string) => platform.tabLink!(storage.url, name, remoteId)
        : undefined,
      state,
      blocks,
      crypto,
      key,
      writer,
      signing,
      members,
      ring,
      compression,
      checkpointEvery:
        options.checkpointEvery ??
        platform.checkpointEvery ??
        AUTO_CHECKPOINT_COMMITS,
      onHidden: platform.onHidden?.bind(platform),
      lazy: upToDate ? checkpoint : undefined,
      newId: createIdGenerator(options.now ?? Date.now, (n) =>
        crypto.randomBytes(n),
      ),
      uncheckpointed: replayed,
      schema: options.schema,
      readOnly: options.readOnly === true,
    });
  } catch (error) {
    await storage.close();
    throw error;
  }
}

async function findKey(
  local: LocalStorage,
  name: string,
  explicit: Uint8Array | undefined,
  hasData: boolean,
  crypto: CryptoProvider,
): Promise<Uint8Array> {
  const stored = await local.getKey(name);
  if (explicit) {
    const wanted = encodeLedgerKey(explicit);
    // With commits, a different stored key is the caller's mistake: decryption reports it.
    if (stored === wanted || (stored !== undefined && hasData)) return explicit;
    // A key stored for a ledger without commits (opened before without a key) gives way to
    // the explicit one; what was stored under it (an empty checkpoint, sync records) goes too.
    if (stored !== undefined) await local.destroy(name);
    if ((await local.putKey(name, wanted)) !== wanted)
      throw new KeyError(
        "invalid-key",
        `open ${name}: another opener stored a different key for this new ledger at the same moment`,
      );
    return explicit;
  }
  if (stored !== undefined) return decodeLedgerKey(stored);
  if (hasData)
    throw new KeyError(
      "missing-key",
      `open ${name}: the store holds commits but no key; pass the ledger key to openLedger`,
    );
  // Two openers of a new ledger (two tabs) can both get here: putKey keeps the first key
  // stored and both use that one.
  return decodeLedgerKey(
    await local.putKey(name, encodeLedgerKey(createLedgerKey(crypto))),
  );
}

/** The checkpoint if there is a sound one; a damaged one is skipped (the commits are replayed). */
async function restoreCheckpoint(
  local: LocalStorage,
  name: string,
  crypto: CryptoProvider,
  key: Uint8Array,
  compression: Compression,
): Promise<Checkpoint | undefined> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await local.getCheckpoint(name);
  } catch (error) {
    if (error instanceof CorruptError) return undefined;
    throw error;
  }
  if (!bytes) return undefined;
  try {
    return await decodeCheckpoint(bytes, crypto, key, compression);
  } catch (error) {
    // A wrong key fails here first: that must surface, not fall back to an empty ledger.
    if (error instanceof DecryptError) throw error;
    if (error instanceof CorruptError || error instanceof IntegrityError)
      return undefined;
    throw error;
  }
}
