// What an example app's test runs on, as `npm run demo` does: the apps built by Vite, `kiln
// serve` (the CLI, from source) with a secret, a token per user, the static server on
// loopback handing each user their config (ledger key, token), and Chromium with one browser
// context per user (its own IndexedDB, its own network switch).
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page, WebSocketRoute } from "playwright-core";
import { configsFor } from "../../examples/apps/apps.js";
import type { AppUsers } from "../../examples/apps/apps.js";
import { buildApps } from "../../examples/apps/build-apps.js";
import type { UserConfig } from "../../examples/apps/shared/user-config.js";
import { serveApps } from "../../examples/apps/static-server.js";
import { launchChromium } from "../browser/harness.js";
import { startServer } from "../sync/processes.js";

const SECRET = randomBytes(24).toString("base64url");

export interface User {
  readonly name: string;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Cuts this user off the network (offline), or lets them back. */
  offline(value: boolean): Promise<void>;
  /** Blocks this user's WebSockets and HTTP requests to `url` (for good). */
  cutFrom(url: string): Promise<void>;
}

export interface AppStack {
  /** kiln serve's URL. */
  readonly serverUrl: string;
  /** Each user's configuration (token, keys), as their page receives it. */
  readonly configs: Readonly<Record<string, UserConfig>>;
  /** Opens the app in a new browser context as `user`. */
  open(user: string): Promise<User>;
  close(): Promise<void>;
}

/** Builds `app` alone, and starts the stack for its `users` (examples/apps/apps.ts). */
export async function startAppStack(
  app: string,
  users: AppUsers,
): Promise<AppStack> {
  const dist = await buildApps(await mkdtemp(join(tmpdir(), "kiln-apps-")), [
    app,
  ]);
  const configs: Record<string, UserConfig> = {};
  const pages = await serveApps({ dist, configs: { [app]: configs } });
  // As npm run demo starts it: a secret, and the apps' origin allowed.
  const server = await startServer([
    "--port",
    "0",
    "--secret",
    SECRET,
    "--storage",
    "memory://",
    "--allow-origin",
    pages.origin,
  ]);
  Object.assign(
    configs,
    configsFor(app, users, { secret: SECRET, url: server.url }),
  );
  const chromium = await launchChromium();
  const contexts: BrowserContext[] = [];
  return {
    serverUrl: server.url,
    configs,
    async open(user) {
      const context = await chromium.browser.newContext();
      contexts.push(context);
      // The page's WebSockets to kiln serve go through Playwright, so going offline closes
      // them: Chromium's offline emulation alone fails new connections but leaves open
      // WebSockets running.
      let cut = false;
      const sockets = new Set<WebSocketRoute>();
      const wsOrigin = new URL(server.url).origin.replace(/^http/, "ws");
      await context.routeWebSocket(
        (url) => url.origin === wsOrigin,
        (ws) => {
          if (cut) return void ws.close();
          ws.connectToServer();
          sockets.add(ws);
        },
      );
      const sever = async (value: boolean) => {
        cut = value;
        await context.setOffline(value);
        if (value)
          for (const ws of sockets.values()) {
            sockets.delete(ws);
            await ws.close().catch(() => undefined);
          }
      };
      const page = await context.newPage();
      await page.goto(`${pages.origin}/${app}/?user=${user}`);
      return {
        name: user,
        context,
        page,
        offline: sever,
        async cutFrom(url: string) {
          // Cut from kiln serve only (the static server stays reachable, for a reload).
          await context.route(`${url}/**`, (route) => route.abort());
          cut = true;
          for (const ws of sockets.values()) {
            sockets.delete(ws);
            await ws.close().catch(() => undefined);
          }
        },
      };
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await chromium.close();
      await pages.close();
      await server.stop();
      await rm(dist, { recursive: true, force: true });
    },
  };
}
