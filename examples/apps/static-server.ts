// The demo's static server on loopback: the built apps (examples/dist) and, under
// /config/<app>/<user>.json, each user's configuration with their ledger key and token —
// handed to their page out of band, never in a URL kiln serve sees. Not kiln serve: the sync
// server never serves pages or keys.
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import type { UserConfig } from "./shared/user-config.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
};

export interface StaticServer {
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  close(): Promise<void>;
}

export async function serveApps(options: {
  dist: string;
  /** configs[app][user] */
  configs: Record<string, Record<string, UserConfig>>;
  port?: number;
}): Promise<StaticServer> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(
      new URL(req.url ?? "/", "http://x").pathname,
    );
    const config = /^\/config\/([\w-]+)\/([\w-]+)\.json$/.exec(path);
    if (config) {
      const found = options.configs[config[1]!]?.[config[2]!];
      if (!found) return void res.writeHead(404).end();
      res.writeHead(200, {
        "content-type": TYPES[".json"]!,
        "cache-control": "no-store",
      });
      return void res.end(JSON.stringify(found));
    }
    const file = normalize(
      join(options.dist, path.endsWith("/") ? `${path}index.html` : path),
    );
    if (!file.startsWith(options.dist)) return void res.writeHead(403).end();
    readFile(file).then(
      (bytes) => {
        res.writeHead(200, {
          "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        });
        res.end(bytes);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) =>
    server.listen({ port: options.port ?? 0, host: "127.0.0.1" }, resolve),
  );
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
