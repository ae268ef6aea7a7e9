// Kiln's main job on its embedded default: open a ledger in ./.kiln (encrypted files),
// write docs without waiting for any network, read them back, follow changes.
import { openLedger } from "../src/index.js";

const ledger = await openLedger("orders");
const stop = ledger.subscribe((rows) =>
  console.log(`changed: ${rows.map((r) => r.id).join(", ")}`),
);

await ledger.put({ _id: "o1", customer: "acme", amount: 42, status: "open" });
await ledger.bulk([
  { _id: "o2", customer: "globex", amount: 7, status: "open" },
  { _id: "o3", customer: "acme", amount: 99, status: "shipped" },
]);
await ledger.put({ _id: "o1", customer: "acme", amount: 43, status: "open" });

console.log("o1 is", await ledger.get("o1"));
const { rows } = await ledger.allDocs({ prefix: "o" });
console.log(
  `${rows.length} orders:`,
  rows.map((r) => `${r.id}=${JSON.stringify(r.doc.amount)}`).join(" "),
);
console.log("clock:", ledger.clock);

stop();
await ledger.close();
console.log(
  "stored encrypted under ./.kiln; run again and the docs are still there",
);
