// `kiln verify <ledger | file.car> [--key k]`: checks a stored ledger, or a CAR export, and
// prints a summary — or one line per failure naming the commit, and exits 1.
import { open } from "node:fs/promises";
import { verifyExport } from "../ledger/verify-export.js";
import { verifyLedger } from "../ledger/verify-ledger.js";
import type { VerifyReport } from "../ledger/verify-ledger.js";
import { describe as describeError } from "./server-commands.js";

/** A verify target naming a file: what `kiln export --out` writes. */
export const isExportFile = (target: string): boolean =>
  target.toLowerCase().endsWith(".car");

export async function verifyCommand(
  target: string,
  options: { storage: string; key: string | undefined },
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const key = options.key === undefined ? {} : { key: options.key };
  let report: VerifyReport;
  let unreadable: string | undefined;
  let subject = target;
  try {
    if (isExportFile(target)) {
      const handle = await open(target, "r");
      try {
        const found = await verifyExport(
          handle.createReadStream() as AsyncIterable<Uint8Array>,
          key,
        );
        if (found.ledger !== undefined)
          subject = `${target} (ledger ${found.ledger})`;
        report = found;
        unreadable = found.unreadable;
      } finally {
        await handle.close();
      }
    } else
      report = await verifyLedger(target, { storage: options.storage, ...key });
  } catch (error) {
    err(`kiln: ${describeError(error)}`);
    return 1;
  }
  if (unreadable !== undefined) err(`export: ${unreadable}`);
  for (const f of report.failures) err(`commit ${f.cid}: ${f.problem}`);
  const failures = report.failures.length + (unreadable === undefined ? 0 : 1);
  const decrypted =
    options.key === undefined
      ? "without the key"
      : `${report.decrypted} decrypted with the key${report.rotated > 0 ? `, ${report.rotated} under rotated keys not opened` : ""}`;
  const letGo =
    report.letGo > 0
      ? `, ${report.letGo} parents let go (compacted: the snapshot stands for them)`
      : "";
  const membership =
    report.membership === "checked"
      ? ", membership checked"
      : report.membership === "unchecked"
        ? ", membership not checked (history let go)"
        : "";
  const summary = `${report.commits} commits (${report.signed} signed, ${decrypted}), ${report.heads} heads${letGo}${membership}`;
  if (failures > 0) {
    err(`kiln: verify ${subject}: ${failures} failures in ${summary}`);
    return 1;
  }
  out(`verified ${subject}: ${summary}`);
  return 0;
}
