// verifyLedger (`kiln verify <ledger>`): checks a stored ledger without its key — every
// commit's bytes against its CID, its envelope, that its parents and the heads are held,
// and every writer's signature. Reports each failure with the commit it concerns.
import { cidFor, cidString, verifyCid } from "../blocks/cid.js";
import type { CryptoProvider } from "../blocks/crypto.js";
import { decodeEnvelope, unsignedEnvelope } from "../blocks/envelope.js";
import { nodeCrypto } from "../blocks/node-crypto.js";
import type { Registry } from "../gateways/registry.js";
import { createDefaultRegistry } from "../sync/default-registry.js";
import { nodeSigning } from "../trust/node-signing.js";
import type { SigningProvider } from "../trust/signing.js";
import { InvalidUrlError, KilnError } from "../util/errors.js";

/** Options of verifyLedger(): where the ledger is stored. */
export interface VerifyOptions {
  /** The local storage holding the ledger (a file:// or memory:// URL). */
  storage: string;
  registry?: Registry;
  crypto?: CryptoProvider;
  signing?: SigningProvider;
}

/** What verifyLedger() found: counts of what it checked, and every failure. */
export interface VerifyReport {
  commits: number;
  signed: number;
  heads: number;
  /** One entry per problem, naming the commit; empty when the ledger verifies. */
  failures: { cid: string; problem: string }[];
}

/**
 * Checks a stored ledger without its key: every commit's bytes against its CID, its
 * envelope, that its parents and heads are held, and every writer's signature.
 */
export async function verifyLedger(
  name: string,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const crypto = options.crypto ?? nodeCrypto;
  const signing = options.signing ?? nodeSigning;
  const registry = options.registry ?? createDefaultRegistry();
  const gateway = await registry.open(options.storage);
  try {
    if (!gateway.local)
      throw new InvalidUrlError(
        options.storage,
        "verify reads a ledger's own storage; this gateway is not one",
      );
    const cids = await gateway.local.listCommits(name);
    const held = new Set(cids.map((c) => cidString(c)));
    const heads = await gateway.getHeads(name);
    const failures: VerifyReport["failures"] = [];
    const checks: Promise<void>[] = [];
    let signed = 0;
    for (const head of heads)
      if (!held.has(cidString(head)))
        failures.push({ cid: cidString(head), problem: "head is not held" });
    for (const cid of cids) {
      const subject = cidString(cid);
      const fail = (problem: string) =>
        failures.push({ cid: subject, problem });
      const bytes = await gateway.getCommit(name, cid);
      if (!bytes) {
        fail("listed but not readable");
        continue;
      }
      let envelope;
      try {
        verifyCid(crypto, cid, bytes);
        envelope = decodeEnvelope(bytes, `commit ${subject}`);
      } catch (error) {
        if (!(error instanceof KilnError)) throw error;
        fail(error.message);
        continue;
      }
      for (const parent of envelope.parents)
        if (!held.has(cidString(parent)))
          fail(`parent ${cidString(parent)} is not held`);
      const { w, s } = envelope;
      if (w && s) {
        signed++;
        const message = cidFor(crypto, unsignedEnvelope(envelope)).bytes;
        checks.push(
          signing.verify(w, message, s).then((ok) => {
            if (!ok) fail("its writer's signature does not verify");
          }),
        );
      }
    }
    await Promise.all(checks);
    return { commits: cids.length, signed, heads: heads.length, failures };
  } finally {
    await gateway.close();
  }
}
