// Child entry: one sync server, alone in its process (so its RSS is its own).
//   node sync/server.mjs SYSTEM PORT [STORAGE]
// (STORAGE: Kiln's `--storage` URL, default memory://; the scale-out workload passes postgres://)
// Prints "listening on http://127.0.0.1:PORT" when ready (Kiln's `serve` prints it itself),
// then answers the coordinator's calls: watch({ name, key, n }) resolves with the time
// the server holds n docs of a ledger (peers only; Kiln's client says so via synced()).
import { serveCalls } from "./rpc.mjs";

const [system, portArg, storage] = process.argv.slice(2);
const host = "127.0.0.1";
const port = Number(portArg);

const sys = await import(`./adapters/${system}.mjs`);
await sys.load();
const server = await sys.serve({
  host,
  port,
  ...(storage ? { storage } : {}),
});
if (!server.printsReady) console.log(`listening on http://${host}:${port}`);

let closing;
const close = () =>
  (closing ??= Promise.resolve(server.close()).then(() =>
    setTimeout(() => process.exit(0), 50),
  ));

serveCalls(
  {
    async watch(params) {
      if (!server.watch)
        throw new Error(`${system}'s server cannot count docs`);
      return server.watch(params);
    },
    async close() {
      void close();
    },
  },
  close,
);
process.on("SIGTERM", () => void close());
