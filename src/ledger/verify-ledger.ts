// verifyLedger (`kiln verify <ledger>`): checks a stored ledger — every commit's bytes
// against its CID, its envelope, that its parents and the heads are held, and every
// writer's signature, without the key; with it, every commit decrypted too (the checks:
// verify-commits.ts). Reports each failure with the commit it concerns.
import { decodeLedgerKey } from "../blocks/ledger-key.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import { nodeCrypto } from "../blocks/node-crypto.js";
import type { Registry } from "../gateways/registry.js";
import { createDefaultRegistry } from "../sync/default-registry.js";
import { nodeSigning } from "../trust/node-signing.js";
import type { SigningProvider } from "../trust/signing.js";
import { InvalidUrlError } from "../util/errors.js";
import { CommitVerifier } from "./verify-commits.js";
import type { VerifyReport } from "./verify-commits.js";

export type { VerifyReport };

/** Options of verifyLedger(): where the ledger is stored, and optionally its key. */
export interface VerifyOptions {
  /** The local storage holding the ledger (a file:// or memory:// URL). */
  storage: string;
  /** The ledger key (base64url): every commit is then decrypted and parsed too. */
  key?: string;
  registry?: Registry;
  crypto?: CryptoProvider;
  signing?: SigningProvider;
}

/**
 * Checks a stored ledger: every commit's bytes against its CID, its envelope, that its
 * parents and heads are held, and every writer's signature — without the key; with `key`,
 * also that every commit decrypts and parses and its height fits its parents.
 */
export async function verifyLedger(
  name: string,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const verifier = createVerifier(options);
  const registry = options.registry ?? createDefaultRegistry();
  const gateway = await registry.open(options.storage);
  try {
    if (!gateway.local)
      throw new InvalidUrlError(
        options.storage,
        "verify reads a ledger's own storage; this gateway is not one",
      );
    for (const cid of await gateway.local.listCommits(name))
      await verifier.add(cid, await gateway.getCommit(name, cid));
    // A checkpoint stands for history compaction may have let go.
    const compacted = (await gateway.local.getCheckpoint(name)) !== undefined;
    return await verifier.finish(await gateway.getHeads(name), compacted);
  } finally {
    await gateway.close();
  }
}

/** The verifier for some options: node:crypto by default, the key decoded if given. */
export function createVerifier(options: {
  key?: string | undefined;
  crypto?: CryptoProvider;
  signing?: SigningProvider;
}): CommitVerifier {
  return new CommitVerifier({
    crypto: options.crypto ?? nodeCrypto,
    signing: options.signing ?? nodeSigning,
    key: options.key === undefined ? undefined : decodeLedgerKey(options.key),
  });
}
