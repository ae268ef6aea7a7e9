// Real Chromium for tests: Debian's /usr/bin/chromium, launched by the harness itself (so a
// test can SIGKILL it and relaunch on the same profile) and driven over CDP by
// playwright-core. Test pages are TypeScript entries bundled by esbuild for the browser and
// served from a loopback HTTP server on port 0. A page's `import ... from "vitest"` gets
// pages/page-vitest.ts, so shared suites run in the page unchanged.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import type { Browser, BrowserContext, Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--remote-debugging-port=0",
];

const PAGE_VITEST = join(import.meta.dirname, "pages/page-vitest.ts");

/** Bundles page entries (name → path of a .ts file) for the browser, in memory. */
export async function bundlePages(
  entries: Record<string, string>,
  alias: Record<string, string> = {},
): Promise<Map<string, Uint8Array>> {
  const result = await build({
    entryPoints: entries,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    outdir: "/pages",
    splitting: true,
    alias: { vitest: PAGE_VITEST, ...alias },
    logLevel: "silent",
  });
  const files = new Map<string, Uint8Array>();
  for (const file of result.outputFiles)
    files.set(`/${basename(file.path)}`, file.contents);
  return files;
}

export interface PageServer {
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  /** The URL of a page by entry name. */
  url(name: string): string;
  close(): Promise<void>;
}

/** Serves bundled pages: /<name>.html loads /<name>.js as a module. */
export async function servePages(
  files: Map<string, Uint8Array>,
): Promise<PageServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const page = /^\/([\w-]+)\.html$/.exec(path);
    if (page && files.has(`/${page[1]}.js`)) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(
        `<!doctype html><html><head><meta charset="utf-8"><title>${page[1]}</title></head>` +
          `<body><main id="out"></main><script type="module" src="/${page[1]}.js"></script></body></html>`,
      );
      return;
    }
    const file = files.get(path);
    if (file) {
      res.writeHead(200, {
        "content-type": "text/javascript; charset=utf-8",
        "cache-control": "no-store",
      });
      res.end(file);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) =>
    server.listen({ port: 0, host: "127.0.0.1" }, resolve),
  );
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (name) => `${origin}/${name}.html`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Chromium {
  readonly browser: Browser;
  /** The profile's default context (persistent: its IndexedDB outlives a relaunch). */
  readonly context: BrowserContext;
  readonly userDataDir: string;
  readonly pid: number;
  /** SIGKILL to the browser and all its helper processes: nothing is flushed or closed. */
  kill(): Promise<void>;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** A profile to reuse (a relaunch after kill); default: a fresh temporary one. */
  readonly userDataDir?: string;
}

/** Launches /usr/bin/chromium on a profile and connects to it over CDP. */
export async function launchChromium(
  options: LaunchOptions = {},
): Promise<Chromium> {
  const userDataDir =
    options.userDataDir ?? mkdtempSync(join(tmpdir(), "kiln-chromium-"));
  const child: ChildProcess = spawn(
    CHROMIUM,
    [...FLAGS, `--user-data-dir=${userDataDir}`, "about:blank"],
    // Its own process group, so kill() takes the helpers (renderer, the storage service
    // that runs IndexedDB) down with the browser, as a crash of the whole browser would.
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => resolve()),
  );
  const wsUrl = await new Promise<string>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`chromium did not start in 30 s: ${text.slice(-2000)}`));
    }, 30_000);
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      text += chunk;
      const found = /DevTools listening on (ws:\/\/\S+)/.exec(text);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `chromium exited (${code}) before it listened: ${text.slice(-2000)}`,
        ),
      );
    });
  });
  // Keep draining stderr so chromium never blocks on a full pipe.
  child.stderr!.resume();
  const browser = await chromium.connectOverCDP(wsUrl);
  const context = browser.contexts()[0]!;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // The group is gone already.
    }
  };
  const stop = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) killGroup(signal);
    await exited;
    // Helpers that outlived the browser process would keep writing the profile.
    killGroup("SIGKILL");
  };
  return {
    browser,
    context,
    userDataDir,
    pid: child.pid!,
    kill: () => stop("SIGKILL"),
    close: async () => {
      await browser.close().catch(() => undefined);
      await stop("SIGTERM");
      if (!options.userDataDir)
        // A helper killed a moment ago may still hold a file open: retried.
        rmSync(userDataDir, {
          recursive: true,
          force: true,
          maxRetries: 10,
          retryDelay: 100,
        });
    },
  };
}

/** The functions a test page puts on `globalThis.kiln`. */
export type PageApi = Record<string, (...args: never[]) => unknown>;

/** Opens a page and waits for its module to have set globalThis.kiln. */
export async function openPage(
  context: BrowserContext,
  url: string,
): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url);
  await page
    .waitForFunction(() => "kiln" in globalThis, undefined, { timeout: 10_000 })
    .catch((error: unknown) => {
      throw new Error(`page ${url} did not start: ${errors.join("; ")}`, {
        cause: error,
      });
    });
  return page;
}

/** Calls globalThis.kiln[fn](...args) in the page; an in-page throw rejects here with its message. */
export async function callPage<T = unknown>(
  page: Page,
  fn: string,
  ...args: unknown[]
): Promise<T> {
  return (await page.evaluate(
    async ([name, params]) => {
      const api = (globalThis as unknown as { kiln: PageApi }).kiln;
      const target = api[name];
      if (!target) throw new Error(`the page has no function ${String(name)}`);
      return await (target as (...a: unknown[]) => unknown)(...params);
    },
    [fn, args] as const,
  )) as T;
}

export interface BrowserSuite {
  readonly chromium: Chromium;
  readonly pages: PageServer;
  open(name: string): Promise<Page>;
  close(): Promise<void>;
}

/** Bundles and serves the pages, and launches a fresh Chromium. */
export async function startBrowserSuite(
  entries: Record<string, string>,
): Promise<BrowserSuite> {
  const pages = await servePages(await bundlePages(entries));
  const browser = await launchChromium();
  return {
    chromium: browser,
    pages,
    open: (name) => openPage(browser.context, pages.url(name)),
    close: async () => {
      await browser.close();
      await pages.close();
    },
  };
}
