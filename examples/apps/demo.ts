// npm run demo: builds the example apps, serves them from loopback (a static server, not kiln
// serve), starts `kiln serve` with a secret and the apps' origin allowed, mints each user's
// token and keys (apps.ts) and prints each user's URL. Keys and tokens reach a page in a
// config file the static server hands out (static-server.ts), never in a URL. The drone
// swarm's simulator (100 drones at 5 Hz) runs in this process.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { APPS, configsFor } from "./apps.js";
import { buildApps } from "./build-apps.js";
import { startSwarm } from "./drone-swarm/simulator.js";
import type { UserConfig } from "./shared/user-config.js";
import { serveApps } from "./static-server.js";

const dist = await buildApps();
const configs: Record<string, Record<string, UserConfig>> = {};
const pages = await serveApps({
  dist,
  configs,
  port: Number(process.env.DEMO_PORT ?? 0),
});

const secret = randomBytes(24).toString("base64url");
const kiln = spawn(
  process.execPath,
  [
    resolve(import.meta.dirname, "../../bin/kiln.js"),
    "serve",
    "--port",
    process.env.KILN_PORT ?? "0",
    "--storage",
    "memory://",
    "--secret",
    secret,
    "--allow-origin",
    pages.origin,
  ],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const serverUrl = await new Promise<string>((done, fail) => {
  createInterface({ input: kiln.stdout }).on("line", (line) => {
    const found = /listening on (http:\/\/[^\s,]+)/.exec(line);
    if (found) done(found[1]!.replace(/\/$/, ""));
  });
  kiln.once("exit", (code) => fail(new Error(`kiln serve exited (${code})`)));
});

console.log(
  `kiln serve: ${serverUrl} (secret set, origin ${pages.origin} allowed)\n`,
);
for (const [app, users] of Object.entries(APPS)) {
  configs[app] = configsFor(app, users, { secret, url: serverUrl });
  console.log(`${app}:`);
  for (const [user, { page }] of Object.entries(users))
    if (page !== false)
      console.log(`  ${user.padEnd(8)} ${pages.origin}/${app}/?user=${user}`);
}
const swarm = await startSwarm(configs["drone-swarm"]!.simulator!, {
  drones: 100,
});
console.log("\n100 drones fly at 5 Hz. Ctrl-C stops the demo.");
process.on("SIGINT", () => {
  kiln.kill();
  void swarm
    .stop()
    .then(() => pages.close())
    .then(() => process.exit(0));
});
