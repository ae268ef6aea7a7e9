#!/usr/bin/env node
// Signatures on and off, in one run (`npx tsx bench/signatures.mjs [N]`): the measured cost
// of one Ed25519 sign and verify (node:crypto, as the ledger calls them), sequential put of N
// docs on file storage, and a catch-up of N commits from a memory:// remote, each with
// signing on and off, alternated over 3 runs (medians). The overhead of signing is compared
// with N × the measured cost (target ≤ 1.2×; issue 13).
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { nodeSigning, openLedger } from "../src/index.ts";

const N = Number(process.argv[2] ?? 5000);
// "Off": every commit is signed in form (format v2 requires it), by a stand-in that costs
// nothing — a zero signature that every check accepts — so the difference is the crypto.
const noSigning = {
  async importSigner(seed) {
    const { publicKey } = await nodeSigning.importSigner(seed);
    return { publicKey, sign: async () => new Uint8Array(64) };
  },
  verify: async () => true,
};
const signingOf = (sign) => (sign ? nodeSigning : noSigning);
const RUNS = 3;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const doc = (i) => ({ _id: `doc-${i}`, n: i, text: "x".repeat(180) });

async function signCost() {
  const signer = await nodeSigning.importSigner(randomBytes(32));
  const message = randomBytes(36);
  const M = 3000;
  let t = performance.now();
  let s;
  for (let i = 0; i < M; i++) s = await signer.sign(message);
  const sign = ((performance.now() - t) / M) * 1000;
  t = performance.now();
  for (let i = 0; i < M; i++)
    await nodeSigning.verify(signer.publicKey, message, s);
  const verifySeq = ((performance.now() - t) / M) * 1000;
  t = performance.now();
  await Promise.all(
    Array.from({ length: M }, () =>
      nodeSigning.verify(signer.publicKey, message, s),
    ),
  );
  const verifyBatch = ((performance.now() - t) / M) * 1000;
  return { sign, verifySeq, verifyBatch };
}

async function sequentialPut(sign) {
  const dir = mkdtempSync(join(tmpdir(), "kiln-bench-sig-"));
  try {
    const ledger = await openLedger("bench", {
      storage: pathToFileURL(dir).href,
      signing: signingOf(sign),
    });
    const t = performance.now();
    for (let i = 0; i < N; i++) await ledger.put(doc(i));
    const ms = performance.now() - t;
    await ledger.close();
    return ms;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let room = 0;
async function catchUp(sign) {
  const url = `memory://bench-sig-${process.pid}-${room++}`;
  const a = await openLedger("bench", {
    storage: "memory://",
    signing: signingOf(sign),
  });
  const ca = a.connect(url);
  for (let i = 0; i < N; i++) await a.put(doc(i));
  await ca.synced();
  await ca.close();
  const b = await openLedger("bench", {
    storage: "memory://",
    key: a.key,
    signing: signingOf(sign),
  });
  const t = performance.now();
  const cb = b.connect(url);
  await cb.synced();
  const ms = performance.now() - t;
  if (b.clock.join() !== a.clock.join()) throw new Error("catch-up diverged");
  await cb.close();
  await a.close();
  await b.close();
  return ms;
}

const cost = await signCost();
const put = { on: [], off: [] };
const pull = { on: [], off: [] };
for (let r = 0; r < RUNS; r++) {
  for (const sign of r % 2 === 0 ? [true, false] : [false, true]) {
    put[sign ? "on" : "off"].push(await sequentialPut(sign));
    pull[sign ? "on" : "off"].push(await catchUp(sign));
  }
}
const row = (name, m, perCommitUs) => {
  const on = median(m.on);
  const off = median(m.off);
  const overheadUs = ((on - off) / N) * 1000;
  return `| ${name} | ${off.toFixed(0)} | ${on.toFixed(0)} | ${((N / off) * 1000).toFixed(0)} / ${((N / on) * 1000).toFixed(0)} | ${overheadUs.toFixed(1)} | ${perCommitUs.toFixed(1)} | ${(overheadUs / perCommitUs).toFixed(2)} |`;
};
console.log(
  `Node ${process.version}, ${N} docs of ~200 B, medians of ${RUNS} runs, signing on/off alternated\n`,
);
console.log(
  `measured: sign ${cost.sign.toFixed(1)} µs, verify ${cost.verifySeq.toFixed(1)} µs one at a time, ${cost.verifyBatch.toFixed(1)} µs each in a parallel batch\n`,
);
console.log(
  "| workload | off, ms | on, ms | docs/s off / on | overhead per commit, µs | crypto cost per commit, µs | overhead ÷ cost |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|");
console.log(row("sequential put, file://", put, cost.sign));
console.log(row("catch-up from memory:// remote", pull, cost.verifyBatch));
