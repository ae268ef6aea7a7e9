// Real processes for the end-to-end sync tests: `kiln serve` (the CLI from source, via tsx)
// and sync clients (fixtures/sync-client.ts), each driven over its stdio.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { tsxLoader } from "../fixtures/tsx-loader.js";

const ROOT = join(import.meta.dirname, "../..");
const children = new Set<ChildProcess>();

/** Kills every child still running (call from afterEach). */
export function killAll(): void {
  for (const c of children) c.kill("SIGKILL");
  children.clear();
}

export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Its "listening on" line. */
  readonly banner: string;
  /** SIGTERM, and resolves when it exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startServer(args: string[]): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      tsxLoader,
      join(ROOT, "test/fixtures/kiln-cli.ts"),
      "serve",
      ...args,
    ],
    { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT },
  );
  children.add(child);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) =>
    child.on("exit", () => resolve()),
  );
  const lines = createInterface({ input: child.stdout });
  let banner = "";
  const url = await new Promise<string>((resolve, reject) => {
    lines.on("line", (line) => {
      const m = /listening on (http:\/\/[^\s,]+)/.exec(line);
      if (m) {
        banner = line;
        resolve(m[1]!.replace(/\/$/, ""));
      }
    });
    void exited.then(() =>
      reject(new Error(`kiln serve exited before listening: ${stderr}`)),
    );
  });
  return {
    url,
    port: Number(new URL(url).port),
    child,
    stderr: () => stderr,
    banner,
    async stop(signal = "SIGTERM") {
      child.kill(signal);
      await exited;
      children.delete(child);
    },
  };
}

export interface ClientProcess {
  call(command: Record<string, unknown>): Promise<Record<string, unknown>>;
  kill(): Promise<void>;
}

export function startClient(): ClientProcess {
  const child = spawn(
    process.execPath,
    ["--import", tsxLoader, join(ROOT, "test/fixtures/sync-client.ts")],
    { stdio: ["pipe", "pipe", "inherit"], cwd: ROOT },
  );
  children.add(child);
  const exited = new Promise<void>((resolve) =>
    child.on("exit", () => resolve()),
  );
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on("line", (line) =>
    waiting.shift()?.(line),
  );
  return {
    async call(command) {
      const reply = new Promise<string>((resolve) => waiting.push(resolve));
      child.stdin.write(`${JSON.stringify(command)}\n`);
      const parsed = JSON.parse(await reply) as Record<string, unknown>;
      if (!parsed.ok)
        throw new Error(
          `${String(command.op)} failed: ${String(parsed.error)}`,
        );
      return parsed;
    },
    async kill() {
      child.kill("SIGKILL");
      await exited;
      children.delete(child);
    },
  };
}
