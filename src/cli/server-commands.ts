// `kiln serve` and `kiln token`: the SyncServer on this machine, and the bearer tokens it
// accepts. main.ts parses the command line and passes the values in.
import { userInfo } from "node:os";
import { fileURLToPath } from "node:url";
import type { Backend } from "../server/backend.js";
import { openEmbeddedBackend } from "../server/backends/embedded-backend.js";
import { createMemoryBackend } from "../server/backends/memory-backend.js";
import {
  openPostgresBackend,
  type PostgresBackendOptions,
} from "../server/backends/postgres/postgres-backend.js";
import { redactStorageUrl } from "../server/backends/postgres/postgres-url.js";
import {
  createSyncServer,
  parseDuration,
  signToken,
  tokenId,
} from "../server/index.js";
import type { SyncServer } from "../server/index.js";
import { InvalidUrlError, KilnError } from "../util/errors.js";
import {
  createServeLogger,
  describeCauses,
  logServerEvent,
} from "./serve-log.js";
import { parseServeOptions } from "./serve-options.js";
import type { ServeOptions } from "./serve-options.js";

/** Where `kiln serve` keeps commits unless told otherwise (an embedded backend). */
export const DEFAULT_SERVER_DIR = "kiln-data";

export async function serve(
  options: ServeOptions,
  out: (line: string) => void,
  err: (line: string) => void,
  stop: AbortSignal | undefined,
): Promise<number> {
  const config = parseServeOptions(options);
  if (typeof config === "string") {
    err(`kiln serve: ${config}`);
    return 2;
  }
  const { port, limits, metrics: metricsAddress } = config;
  const logger = createServeLogger({
    verbose: options.verbose,
    format: options.logFormat ?? "json",
    write: err,
  });
  let backend: Backend;
  try {
    backend = await openBackend(options.storage, (message, detail) =>
      logger.warn(detail ?? {}, message),
    );
  } catch (error) {
    err(`kiln serve: ${describe(error)}`);
    return error instanceof InvalidUrlError ? 2 : 1;
  }
  const metrics = metricsAddress
    ? (await import("../server/server-metrics.js")).createServerMetrics(
        () => server,
        () => backend,
      )
    : undefined;
  let server: SyncServer | undefined;
  try {
    server = createSyncServer({
      backend: metrics ? metrics.timed(backend) : backend,
      ...(options.secret !== undefined ? { secret: options.secret } : {}),
      limits,
      trustProxy: options.trustProxy ?? [],
      ...(options.allowOrigins !== undefined
        ? { allowOrigins: options.allowOrigins }
        : {}),
      log: (event) => {
        metrics?.onEvent(event);
        logServerEvent(logger, event);
      },
    });
    const stopped = stopSignal(stop);
    const scrape = metricsAddress
      ? await metrics?.listen(metricsAddress.host, metricsAddress.port)
      : undefined;
    try {
      const listener = await server.listen({ port, host: options.host });
      out(
        `kiln serve: listening on ${listener.url} (ws + http)${scrape ? `, metrics on ${scrape.url}/metrics` : ""}, storage ${redactStorageUrl(options.storage)}, ${
          options.secret !== undefined
            ? "auth on (bearer tokens signed with the secret)"
            : "auth off (no secret: anyone on this machine may read and write)"
        }`,
      );
      logger.info(
        {
          event: "listening",
          url: listener.url,
          ...(scrape ? { metrics: scrape.url } : {}),
          storage: redactStorageUrl(options.storage),
          auth: options.secret !== undefined,
        },
        "listening",
      );
      await stopped.promise;
      logger.info({ event: "closing" }, "closing");
      out("kiln serve: closing");
    } finally {
      stopped.dispose();
      await server.close();
      await scrape?.close();
    }
    return 0;
  } catch (error) {
    logger.fatal({ event: "stopped", err: error }, "stopped by an error");
    return 1;
  } finally {
    await backend.close();
  }
}

async function openBackend(
  storage: string,
  warn: (message: string, detail?: Record<string, unknown>) => void,
): Promise<Backend> {
  let url: URL;
  try {
    url = new URL(storage);
  } catch {
    throw new InvalidUrlError(
      redactStorageUrl(storage),
      "not a URL (memory://, file:///dir or postgres://host/database)",
    );
  }
  if (url.protocol === "memory:") return createMemoryBackend();
  if (url.protocol === "file:")
    return openEmbeddedBackend(fileURLToPath(url), {
      onRepair: (repair) =>
        warn(
          `repaired the log of ledger ${JSON.stringify(repair.ledger)} (${repair.file}): ${repair.kind} at byte ${repair.offset} (${repair.detail}); cut ${repair.droppedBytes} bytes${repair.savedTo !== undefined ? `, saved to ${repair.savedTo}` : ""}; ${repair.recovered} intact commits after it are served again`,
          { event: "repair", ...repair },
        ),
    });
  if (url.protocol === "postgres:" || url.protocol === "postgresql:")
    return openPostgresBackend(storage, postgresDefaults(warn));
  throw new InvalidUrlError(
    redactStorageUrl(storage),
    "kiln serve stores commits in memory://, file:///dir or postgres://host/database",
  );
}

/** What a postgres:// URL may leave to the environment, as libpq and the AWS tools read it. */
function postgresDefaults(
  warn: (message: string, detail?: Record<string, unknown>) => void,
): PostgresBackendOptions {
  const env = process.env;
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const user = env.PGUSER ?? osUser();
  return {
    ...(user !== undefined ? { user } : {}),
    ...(accessKeyId && secretAccessKey
      ? {
          s3Credentials: {
            accessKeyId,
            secretAccessKey,
            ...(env.AWS_SESSION_TOKEN
              ? { sessionToken: env.AWS_SESSION_TOKEN }
              : {}),
          },
        }
      : {}),
    ...(region ? { s3Region: region } : {}),
    onError: (error) =>
      warn(`postgres: ${describe(error)}`, { event: "postgres", err: error }),
  };
}

/** Resolves when `stop` aborts, or on SIGINT / SIGTERM when there is no `stop`. */
function stopSignal(stop: AbortSignal | undefined): {
  promise: Promise<void>;
  dispose(): void;
} {
  let resolveStop!: () => void;
  const promise = new Promise<void>((resolve) => (resolveStop = resolve));
  if (stop) {
    if (stop.aborted) resolveStop();
    stop.addEventListener("abort", () => resolveStop(), { once: true });
    return { promise, dispose: () => undefined };
  }
  const onSignal = () => resolveStop();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    promise,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

function osUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (some containers): the URL must name the user.
    return undefined;
  }
}

export interface RevokeCommandOptions {
  /** A token id (jti), or a whole token whose id is read from it. */
  token: string;
  /** The server's storage URL, as `kiln serve --storage` takes it. */
  storage: string;
}

/** `kiln token revoke`: records the revocation in the server's backend (every process hears it). */
export async function revokeTokenCommand(
  options: RevokeCommandOptions,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const id = options.token.startsWith("kiln1.")
    ? tokenId(options.token)
    : options.token;
  if (id === undefined) {
    err(
      "kiln token revoke: the token has no id (tokens made before ids cannot be revoked one by one: rotate the secret)",
    );
    return 2;
  }
  let backend: Backend | undefined;
  try {
    backend = await openBackend(options.storage, (message) => err(message));
    await backend.revokeToken(id);
    out(`revoked token ${id}`);
    return 0;
  } catch (error) {
    err(`kiln token revoke: ${describeCauses(error)}`);
    return 1;
  } finally {
    await backend?.close();
  }
}

export interface TokenCommandOptions {
  ledgers: string[];
  write: boolean;
  expires: string | undefined;
  secret: string | undefined;
}

export function token(
  options: TokenCommandOptions,
  out: (line: string) => void,
  err: (line: string) => void,
): number {
  if (options.secret === undefined) {
    err("kiln token: no secret to sign with: set KILN_SECRET or pass --secret");
    return 2;
  }
  if (options.ledgers.length === 0) {
    err('kiln token: name at least one --ledger (or --ledger "*" for all)');
    return 2;
  }
  const expiresIn =
    options.expires === undefined ? undefined : parseDuration(options.expires);
  if (options.expires !== undefined && expiresIn === undefined) {
    err(
      `kiln token: --expires takes a duration like 90s, 15m, 12h, 30d or 2w, not ${JSON.stringify(options.expires)}`,
    );
    return 2;
  }
  try {
    out(
      signToken(options.secret, {
        ledgers: options.ledgers,
        write: options.write,
        ...(expiresIn !== undefined ? { expiresIn } : {}),
      }),
    );
    return 0;
  } catch (error) {
    err(`kiln token: ${describe(error)}`);
    return 2;
  }
}

/** An error as one line: its message, and its code when it is Kiln's. */
export function describe(error: unknown): string {
  return error instanceof KilnError
    ? `${error.message} (${error.code})`
    : error instanceof Error
      ? error.message
      : String(error);
}
