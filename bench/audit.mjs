#!/usr/bin/env node
// The audit trail's cost (`npx tsx bench/audit.mjs [N]`): on a ledger of N commits (file
// storage, one doc per commit; one doc "audited" written 10 times among them),
// ledger.history("audited") — a scan of the in-memory clock plus one decrypt per version —
// beside the scan alone (history of a doc never written) and beside opening every commit
// (what history would cost without the clock as its index), and ledger.at(clock) at the
// midpoint and at the heads (which read every commit the clock covers). Medians of 5.
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { openLedger } from "../src/index.ts";

const N = Number(process.argv[2] ?? 10_000);
const RUNS = 5;
const VERSIONS = 10;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = async (fn) => {
  const ms = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return median(ms);
};

const dir = mkdtempSync(join(tmpdir(), "kiln-bench-audit-"));
try {
  const ledger = await openLedger("audit", {
    storage: pathToFileURL(dir).href,
  });
  let middle;
  const every = Math.floor(N / VERSIONS);
  for (let i = 0; i < N; i++) {
    if (i % every === 0)
      await ledger.put({ _id: "audited", version: i, text: "y".repeat(180) });
    else await ledger.put({ _id: `doc-${i}`, n: i, text: "x".repeat(180) });
    if (i === N / 2) middle = ledger.clock;
  }
  const history = await time(() => ledger.history("audited"));
  const count = (await ledger.history("audited")).length;
  const scan = await time(() => ledger.history("never-written"));
  const past = await ledger.at(middle);
  const everyCommit = await time(async () => {
    // The baseline: what finding the versions by reading the ledger would cost.
    const view = await ledger.at(ledger.clock);
    await view.get("audited");
  });
  const atMiddle = await time(() => ledger.at(middle));
  const get = await time(() => past.get("audited"));
  await ledger.close();
  console.log(
    `Node ${process.version}, ${N} commits on file storage, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")} (loaded, provisional), medians of ${RUNS}\n`,
  );
  console.log("| operation | ms |");
  console.log("|---|---:|");
  console.log(
    `| history of a doc with ${count} versions | ${history.toFixed(2)} |`,
  );
  console.log(
    `| history of a doc never written (the clock scan alone) | ${scan.toFixed(2)} |`,
  );
  console.log(
    `| at(heads): open all ${N} commits and merge them | ${everyCommit.toFixed(1)} |`,
  );
  console.log(
    `| at(midpoint clock): ${N / 2 + 1} commits | ${atMiddle.toFixed(1)} |`,
  );
  console.log(`| get on a view | ${get.toFixed(3)} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
