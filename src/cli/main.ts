// The kiln command line: the only place that reads argv and the environment.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_STORAGE_DIR } from "../ledger/open-ledger.js";
import { openLedger, whoami } from "../platform/node-platform.js";
import { deleteServerLedger } from "../sync/delete-server-ledger.js";
import { exportToFile, importFromFile } from "./portable-commands.js";
import { createProgressBar } from "./progress-bar.js";
import { verifyCommand } from "./verify-command.js";
import type { Terminal } from "./progress-bar.js";
import {
  DEFAULT_SERVER_DIR,
  describe as describeError,
  revokeTokenCommand,
  serve,
  token,
} from "./server-commands.js";

const USAGE = `usage: kiln <command> [options]

commands:
  put <ledger> <json>        write a doc (JSON object; _id optional) and print its id
  get <ledger> <id>          print a doc as JSON
  del <ledger> <id>          delete a doc
  ls <ledger> [--prefix p] [--limit n]
                             list docs by id, one JSON line each
  key <ledger>               print the ledger key (keep it secret; share it only with replicas)
  compact <ledger>           fold history into a checkpoint
  verify <ledger | f.car> [--key <key>]
                             check every commit of a stored ledger or an export, without
                             the key: bytes against the CID, envelope, parents and heads
                             held, writers' signatures; with --key (or KILN_KEY) also
                             decrypt each; exits 1 naming each commit that fails
  export <ledger> --out <f.car>
                             write the ledger (encrypted commits and a snapshot) as a CARv1
  delete-ledger <ledger> --server <url> [--token <t>]
                             delete a ledger from a SyncServer: every commit, head and
                             snapshot of it (needs a write token for it; or KILN_TOKEN)
  import <ledger> <f.car>    read an export into a storage that holds nothing of the ledger;
                             with --key (or KILN_KEY) it is checked to open
  whoami                     print this device's writer public key (made on first use, kept
                             in the storage: other members invite this key)
  serve [--port 7070] [--host 127.0.0.1] [--storage <url>] [--secret <s>] [--verbose]
        [--log-format json|text]
                             run a SyncServer until SIGINT/SIGTERM; --storage is memory://,
                             file:///dir (default: file://./${DEFAULT_SERVER_DIR}) or
                             postgres://host/db[?blobs=s3://bucket/prefix&s3-endpoint=…]
                             (docs/deploy.md); without a secret (KILN_SECRET) it listens on
                             loopback only; budgets: --max-connections 10000,
                             --max-connections-per-address 2000, --ledger-quota 1GiB (commit
                             bytes per ledger, or none), --trust-proxy <addr|loopback>
                             (docs/deploy.md, "Budgets"); --metrics-listen 127.0.0.1:9464
                             serves /metrics, /livez, /readyz; web pages may call it from
                             --allow-origin <origin> (repeatable, "*" for any); default:
                             any with a secret, loopback pages only without one; the log
                             goes to stderr as JSON lines (text on a terminal, or
                             --log-format), --verbose adds connections, pushes and refusals
  token --ledger <name> [--ledger <name>…] [--write] [--expires 30d] [--secret <s>]
                             print a bearer token signed with KILN_SECRET; "*" names every ledger
  token revoke <id | token> [--storage <url>]
                             revoke a token (by its id, the jti claim, or the token itself) in
                             the server storage: every server process on it refuses the token
                             from its next request and closes WebSockets that use it

options:
  --storage <url>   where ledgers live (default: file://./${DEFAULT_STORAGE_DIR}, or KILN_STORAGE)
  --key <key>       the ledger key, to open a replica made elsewhere (or KILN_KEY)
  -h, --help        show this help`;

/**
 * Runs one command; resolves to the exit code. `serve` runs until `stop` aborts, or without
 * one until the process gets SIGINT or SIGTERM.
 */
export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
  stop?: AbortSignal,
  terminal: Terminal = process.stderr,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: attachDashedValues(argv),
      allowPositionals: true,
      options: {
        storage: { type: "string" },
        key: { type: "string" },
        prefix: { type: "string" },
        limit: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        secret: { type: "string" },
        verbose: { type: "boolean" },
        "log-format": { type: "string" },
        "max-connections": { type: "string" },
        "max-connections-per-address": { type: "string" },
        "ledger-quota": { type: "string" },
        "trust-proxy": { type: "string", multiple: true },
        "allow-origin": { type: "string", multiple: true },
        "metrics-listen": { type: "string" },
        ledger: { type: "string", multiple: true },
        write: { type: "boolean" },
        expires: { type: "string" },
        out: { type: "string" },
        server: { type: "string" },
        token: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    err(
      `kiln: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`,
    );
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, name, arg] = positionals;
  if (values.help || !command) {
    (values.help ? out : err)(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === "token" && name === "revoke") {
    if (positionals.length !== 3 || !arg) {
      err(`kiln: token revoke takes one token id (or token)\n\n${USAGE}`);
      return 2;
    }
    return revokeTokenCommand(
      {
        token: arg,
        storage:
          values.storage ?? pathToFileURL(resolve(DEFAULT_SERVER_DIR)).href,
      },
      out,
      err,
    );
  }
  if (command === "serve" || command === "token") {
    if (positionals.length !== 1) {
      err(`kiln: ${command} takes no arguments, only options\n\n${USAGE}`);
      return 2;
    }
    const logFormat =
      values["log-format"] ?? (terminal.isTTY ? "text" : "json");
    if (logFormat !== "json" && logFormat !== "text") {
      err(`kiln serve: --log-format is json or text, not ${logFormat}`);
      return 2;
    }
    // An empty KILN_SECRET (as `KILN_SECRET= kiln serve`) means none.
    const secret = values.secret ?? (env.KILN_SECRET || undefined);
    return command === "serve"
      ? serve(
          {
            port: values.port ?? "7070",
            host: values.host ?? "127.0.0.1",
            storage:
              values.storage ?? pathToFileURL(resolve(DEFAULT_SERVER_DIR)).href,
            secret,
            verbose: values.verbose ?? false,
            logFormat,
            maxConnections: values["max-connections"],
            maxConnectionsPerAddress: values["max-connections-per-address"],
            ledgerQuota: values["ledger-quota"],
            trustProxy: values["trust-proxy"] ?? [],
            allowOrigins: values["allow-origin"],
            metricsListen: values["metrics-listen"],
          },
          out,
          err,
          stop,
        )
      : token(
          {
            ledgers: values.ledger ?? [],
            write: values.write ?? false,
            expires: values.expires,
            secret,
          },
          out,
          err,
        );
  }
  const storage =
    values.storage ??
    env.KILN_STORAGE ??
    pathToFileURL(resolve(DEFAULT_STORAGE_DIR)).href;
  if (command === "whoami") {
    if (positionals.length !== 1) {
      err(`kiln: whoami takes no arguments, only options\n\n${USAGE}`);
      return 2;
    }
    try {
      out(await whoami({ storage }));
      return 0;
    } catch (error) {
      err(`kiln: ${describeError(error)}`);
      return 1;
    }
  }
  if (command === "verify") {
    if (positionals.length !== 2 || !name) {
      err(`kiln: verify takes one ledger name or .car file\n\n${USAGE}`);
      return 2;
    }
    const key = values.key ?? env.KILN_KEY;
    return verifyCommand(name, { storage, key }, out, err);
  }
  if (command === "delete-ledger") {
    if (positionals.length !== 2 || !name || !values.server) {
      err(
        `kiln: delete-ledger <ledger> --server <url> [--token <t>]\n\n${USAGE}`,
      );
      return 2;
    }
    const token = values.token ?? env.KILN_TOKEN;
    try {
      await deleteServerLedger(name, {
        server: values.server,
        ...(token ? { token } : {}),
      });
      out(`deleted ${name} from ${values.server}`);
      return 0;
    } catch (error) {
      err(`kiln: ${describeError(error)}`);
      return 1;
    }
  }
  if (command === "export" || command === "import") {
    const file = command === "export" ? values.out : arg;
    const count = command === "export" ? 2 : 3;
    if (positionals.length !== count || !name || !file) {
      err(
        `kiln: ${command === "export" ? "export <ledger> --out <f.car>" : "import <ledger> <f.car>"}\n\n${USAGE}`,
      );
      return 2;
    }
    const portable = {
      storage,
      key: values.key ?? env.KILN_KEY,
      terminal,
    };
    try {
      if (command === "export") {
        const { blocks } = await exportToFile(name, file, portable);
        out(`exported ${name}: ${blocks} blocks to ${file}`);
      } else {
        const r = await importFromFile(name, file, portable);
        out(
          `imported ${name}: ${r.commits} commits${r.snapshot ? " and a snapshot" : ""}, heads ${r.heads.join(" ")}`,
        );
      }
      return 0;
    } catch (error) {
      err(`kiln: ${describeError(error)}`);
      return 1;
    }
  }
  const needs = (n: number) => positionals.length === n;
  const valid =
    (["put", "get", "del"].includes(command) && needs(3)) ||
    (["ls", "key", "compact"].includes(command) && needs(2));
  if (!valid || !name) {
    err(`kiln: wrong arguments for ${JSON.stringify(command)}\n\n${USAGE}`);
    return 2;
  }
  const key = values.key ?? env.KILN_KEY;
  try {
    const ledger = await openLedger(name, {
      storage,
      ...(key !== undefined ? { key } : {}),
    });
    try {
      switch (command) {
        case "put": {
          let doc: unknown;
          try {
            doc = JSON.parse(arg!);
          } catch {
            err("kiln: the doc is not valid JSON");
            return 2;
          }
          out((await ledger.put(doc as never)).id);
          break;
        }
        case "get":
          out(JSON.stringify(await ledger.get(arg!)));
          break;
        case "del":
          await ledger.del(arg!);
          break;
        case "ls": {
          const limit =
            values.limit === undefined ? undefined : Number(values.limit);
          const { rows } = await ledger.allDocs({
            ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
            ...(limit !== undefined ? { limit } : {}),
          });
          for (const row of rows) out(JSON.stringify(row.doc));
          break;
        }
        case "key":
          out(ledger.key);
          break;
        case "compact": {
          const bar = createProgressBar(terminal);
          try {
            await ledger.compact(
              bar.onProgress ? { onProgress: bar.onProgress } : {},
            );
          } finally {
            bar.finish();
          }
          break;
        }
      }
    } finally {
      await ledger.close();
    }
    return 0;
  } catch (error) {
    err(`kiln: ${describeError(error)}`);
    return 1;
  }
}

/** Options whose values are base64url (keys, tokens, secrets) and so may begin with "-". */
const DASHED_VALUE_OPTIONS = new Set(["--key", "--token", "--secret"]);

/**
 * parseArgs refuses `--key -abc…` as ambiguous; a base64url key or token starts with "-" one
 * time in 64, so the value after these options is attached (`--key=-abc…`) before parsing.
 */
function attachDashedValues(argv: readonly string[]): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = argv[i + 1];
    if (
      DASHED_VALUE_OPTIONS.has(arg) &&
      value?.startsWith("-") &&
      value !== "--"
    ) {
      args.push(`${arg}=${value}`);
      i++;
    } else args.push(arg);
  }
  return args;
}
