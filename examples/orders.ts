// Kiln's main job on its embedded default: open a ledger in ./.kiln (encrypted files),
// write docs without waiting for any network, read them back, follow changes — then sync
// it through a SyncServer (the one `npx kiln serve` runs, here in-process, keeping its
// ciphertext in ./.kiln-server) to a second replica.
import { openLedger } from "../src/index.js";
import { createSyncServer } from "../src/server/index.js";
import { openEmbeddedBackend } from "../src/server/backends/embedded-backend.js"; // kiln/server/embedded

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

const backend = await openEmbeddedBackend(".kiln-server");
const server = createSyncServer({ backend });
const { url } = await server.listen({ port: 0 });
const laptop = ledger.connect(url);
const phone = await openLedger("orders", {
  storage: "memory://",
  key: ledger.key,
});
const toPhone = phone.connect(url);
await laptop.synced();
await toPhone.synced();
const onPhone = await phone.allDocs();
console.log(
  `synced through ${url} over ${toPhone.status.kind === "live" ? toPhone.status.transport : "?"}:`,
  `the phone has ${onPhone.rows.length} orders`,
);
await phone.close();
await ledger.close(); // closes its connection too
await server.close();
await backend.close();
console.log(
  "stored encrypted under ./.kiln (and ./.kiln-server); run again and the docs are still there",
);
