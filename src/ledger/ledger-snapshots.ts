// Snapshots: the ledger's merged state sealed like a commit, to publish to a remote, and the
// adoption of one a remote sent, so a new replica starts from it instead of every commit.
// A snapshot is a checkpoint without the local indexes (docs/format.md, "Snapshots"): an
// envelope whose parents are the heads it covers, named by the CID of its bytes.
import { CID } from "multiformats/cid";
import { cidString } from "../blocks/cid.js";
import type { Compression } from "../blocks/node-compression.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { CommitSigner } from "../blocks/commit.js";
import type { Gateway, LocalStorage } from "../gateways/gateway.js";
import type { SigningProvider } from "../trust/signing.js";
import type { WireCommit } from "../sync/protocol/index.js";
import { SignatureError, SnapshotError } from "../util/errors.js";
import type { SerialQueue } from "../util/serial-queue.js";
import type { BlockSource } from "./block-source.js";
import { decodeCheckpoint } from "./checkpoint.js";
import type { Checkpoint } from "./checkpoint.js";
import { rebaseOnSnapshot } from "./snapshot-rebase.js";
import { encodeCheckpoint } from "./checkpoint-writer.js";
import type { LedgerEvents } from "./ledger-events.js";
import type { StateLoader } from "./state-loader.js";

export interface LedgerSnapshotsParts {
  ledger: string;
  local: LocalStorage;
  /** The ledger's storage (a rebase reads its own commits back from it). */
  storage: Gateway;
  loader: StateLoader;
  blocks: BlockSource;
  crypto: CryptoProvider;
  key: Uint8Array;
  compression: Compression;
  events: LedgerEvents;
  queue: SerialQueue;
  /** Signs published snapshots; undefined when the ledger does not sign. */
  writer: CommitSigner;
  signing: SigningProvider;
}

/** What adopting a snapshot did. */
export type SnapshotOutcome =
  /** The ledger was empty: it now holds the snapshot's state (loaded lazily). */
  | "adopted"
  /** The ledger is at exactly the snapshot's heads and computes the same root. */
  | "verified"
  /** The ledger holds every head the snapshot covers: it has nothing to learn from it. */
  | "covered"
  /**
   * The snapshot covers history the ledger lacks: the ledger now holds the snapshot's state
   * with its own commits the snapshot does not cover merged on top (snapshot-rebase.ts).
   */
  | "rebased";

export class LedgerSnapshots {
  readonly #p: LedgerSnapshotsParts;

  constructor(parts: LedgerSnapshotsParts) {
    this.#p = parts;
  }

  /** Seals the merged state at the current heads as a snapshot (in the write queue). */
  seal(): Promise<WireCommit> {
    const { loader, blocks, crypto, key, compression, queue } = this.#p;
    return queue.run(async () => {
      await loader.ready();
      const { bytes } = await encodeCheckpoint(
        loader.state,
        blocks,
        crypto,
        key,
        compression,
        [],
        this.#p.writer,
      );
      return splitSealed(bytes);
    });
  }

  /**
   * The heads, every commit held in storage and a snapshot at those heads (undefined for an
   * empty ledger), taken together in the write queue so no write lands between them.
   */
  exportState(): Promise<{
    heads: CID[];
    commits: CID[];
    snapshot: WireCommit | undefined;
  }> {
    const { ledger, local, loader, blocks, crypto, key, compression, queue } =
      this.#p;
    return queue.run(async () => {
      await loader.ready();
      const heads = loader.state.clock.heads.map((h) => CID.parse(h));
      const commits = await local.listCommits(ledger);
      if (heads.length === 0) return { heads, commits, snapshot: undefined };
      const { bytes } = await encodeCheckpoint(
        loader.state,
        blocks,
        crypto,
        key,
        compression,
        [],
        this.#p.writer,
      );
      return { heads, commits, snapshot: splitSealed(bytes) };
    });
  }

  /**
   * Checks a snapshot a remote sent and adopts it into an empty ledger. Throws IntegrityError
   * (bytes do not match the CID), DecryptError, CorruptError / FormatVersionError (does not
   * parse), SnapshotError (a state this replica computes otherwise, or an unsigned one it
   * cannot check) or SignatureError; nothing changes then. A ledger that lacks history the
   * snapshot covers is rebased onto it (see SnapshotOutcome).
   */
  adopt(snapshot: WireCommit, origin: unknown): Promise<SnapshotOutcome> {
    const { ledger, local, loader, blocks, crypto, key, compression, queue } =
      this.#p;
    return queue.run(async () => {
      const bytes = joinSealed(snapshot);
      // Verifies the CID, decrypts, and checks the layout; tree nodes are checked against
      // their CIDs as they are read.
      const checkpoint = await decodeCheckpoint(
        bytes,
        crypto,
        key,
        compression,
      );
      const name = cidString(snapshot.cid);
      const heads = checkpoint.heads.map((h) => h.cid);
      if (loader.heads.length > 0) {
        await loader.ready();
        const { state } = loader;
        if (!heads.every((h) => state.clock.has(h))) {
          // The snapshot covers history this replica lacks and cannot get as commits (the
          // remote let it go): start from it, with this replica's own commits on top.
          await this.#checkSigned(checkpoint, name);
          await rebaseOnSnapshot(this.#p, checkpoint, bytes);
          this.#p.events.emitChange({ commits: heads, origin });
          this.#p.events.emitReset();
          return "rebased";
        }
        const current = [...state.clock.heads].sort();
        if (current.join() !== [...heads].sort().join()) return "covered";
        const root = await state.treeRoot();
        if (!sameRoot(root, checkpoint.root))
          throw new SnapshotError(
            name,
            `its doc tree root ${checkpoint.root?.toString() ?? "(empty)"} is not the one this replica computes at the same heads (${root?.toString() ?? "(empty)"})`,
          );
        return "verified";
      }
      await this.#checkSigned(checkpoint, name);
      // Adopted like a reopen from an up-to-date checkpoint: lazily. Reads by id walk the
      // snapshot's tree at once; its clock and version lists are decoded when a write, a
      // merge or a feed first needs them (their layout was checked by decodeCheckpoint, and
      // a state that fails to decode then is a CorruptError of that call).
      await local.putCheckpoint(ledger, bytes);
      blocks.useCheckpoint(checkpoint);
      loader.adopt(checkpoint);
      this.#p.events.emitChange({ commits: heads, origin });
      // Every doc is new: subscribers get one reset notice rather than a row per doc.
      this.#p.events.emitReset();
      return "adopted";
    });
  }

  /**
   * A replica that cannot check a snapshot's state against commits accepts it only signed
   * by a writer (docs/security.md, "Snapshots": membership is not checked yet).
   */
  async #checkSigned(checkpoint: Checkpoint, name: string): Promise<void> {
    const sealedBy = checkpoint.sealedBy;
    if (!sealedBy)
      throw new SnapshotError(
        name,
        "it is not signed by a writer; a replica adopts only a signed snapshot",
      );
    if (
      !(await this.#p.signing.verify(
        sealedBy.writer,
        sealedBy.signature.message,
        sealedBy.signature.s,
      ))
    )
      throw new SignatureError(name);
  }
}

function sameRoot(a: CID | undefined, b: CID | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b);
}

/** A checkpoint as local storage keeps it, [u8 cid length][cid][envelope], as a wire commit. */
export function splitSealed(bytes: Uint8Array): WireCommit {
  const length = bytes[0]!;
  return {
    cid: CID.decode(bytes.subarray(1, 1 + length)),
    bytes: bytes.subarray(1 + length),
  };
}

/** The inverse of splitSealed. */
export function joinSealed(snapshot: WireCommit): Uint8Array {
  const cid = snapshot.cid.bytes;
  const out = new Uint8Array(1 + cid.length + snapshot.bytes.length);
  out[0] = cid.length;
  out.set(cid, 1);
  out.set(snapshot.bytes, 1 + cid.length);
  return out;
}
