// Several server processes on one Postgres: three processes hammer one ledger's head set at
// once and no head is lost; a watcher in another process hears a put made here.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { CID } from "../../src/blocks/cid.js";
import type { Backend } from "../../src/server/backend.js";
import { openPostgresBackend } from "../../src/server/backends/postgres/postgres-backend.js";
import { makeTestChain } from "../../src/server/backends/test-commits.js";
import { testSeed } from "../../src/util/random.js";
import {
  dropSchema,
  freshSchema,
  postgresUrl,
  requirePostgres,
} from "../fixtures/postgres.js";
import { tsxLoader } from "../fixtures/tsx-loader.js";

const schema = freshSchema("procs");
const url = postgresUrl(schema);
const children = new Set<ChildProcess>();
const opened: Backend[] = [];

let migrated: Promise<void> | undefined;
/** Postgres there, and the schema migrated once, so the children do not all start on an empty one. */
function ready(): Promise<void> {
  migrated ??= (async () => {
    await requirePostgres();
    await (await openPostgresBackend(url)).close();
  })();
  return migrated;
}
afterEach(async () => {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
  await Promise.all(opened.splice(0).map((b) => b.close()));
});
afterAll(() => dropSchema(schema));

interface Child {
  /** Resolves with the next message matching `match`; rejects if the child exits first. */
  next(match: (m: Message) => boolean, what: string): Promise<Message>;
  messages: Message[];
  child: ChildProcess;
}
type Message = Record<string, unknown>;

function startChild(args: string[]): Child {
  const child = spawn(
    process.execPath,
    [
      "--import",
      tsxLoader,
      join(import.meta.dirname, "../fixtures/postgres-child.ts"),
      ...args,
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  children.add(child);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const messages: Message[] = [];
  const waiters = new Set<() => void>();
  let exited = false;
  child.on("exit", () => {
    exited = true;
    for (const w of waiters) w();
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    messages.push(JSON.parse(line) as Message);
    for (const w of waiters) w();
  });
  return {
    messages,
    child,
    async next(match, what) {
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        if (exited)
          throw new Error(`child ${args[0]} exited before ${what}: ${stderr}`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
        });
      }
    },
  };
}

describe("postgres backend, several processes", () => {
  it("loses no head when three processes put chains and merges into one ledger at once", async () => {
    await ready();
    const seed = testSeed(process.env.KILN_SEED);
    console.log(
      `postgres head hammer seed ${seed} (reproduce with KILN_SEED=${seed})`,
    );
    const ledger = `hammer-${crypto.randomUUID()}`;
    const workers = [0, 1, 2].map((i) =>
      startChild([
        "hammer",
        url,
        ledger,
        "200",
        String(seed + i),
        String(seed),
      ]),
    );
    await Promise.all(
      workers.map((w) => w.next((m) => m.ready === true, "ready")),
    );
    for (const w of workers) w.child.stdin!.write("go\n");
    await Promise.all(
      workers.map((w) => w.next((m) => m.done === true, "done")),
    );
    const puts = workers.flatMap((w) =>
      w.messages.flatMap(
        (m) =>
          (m.put as { cid: string; parents: string[] }[] | undefined) ?? [],
      ),
    );
    expect(puts.length).toBeGreaterThanOrEqual(600);
    // The shared chain was put by more than one process: they raced on the same commits.
    const counts = new Map<string, number>();
    for (const p of puts) counts.set(p.cid, (counts.get(p.cid) ?? 0) + 1);
    expect([...counts.values()].some((n) => n > 1)).toBe(true);
    const named = new Set(puts.flatMap((p) => p.parents));
    const expected = puts
      .map((p) => p.cid)
      .filter((cid) => !named.has(cid))
      .sort();
    const backend = await openPostgresBackend(url);
    opened.push(backend);
    expect((await backend.getHeads(ledger)).map(String)).toEqual(expected);
    // Every commit is held with the parents its process gave.
    const metas = await backend.getMeta(
      ledger,
      puts.map((p) => CID.parse(p.cid)),
    );
    metas.forEach((meta, i) =>
      expect(meta?.parents.map(String)).toEqual(puts[i]!.parents),
    );
    expect(
      workers.flatMap((w) => w.messages.filter((m) => "error" in m)),
    ).toEqual([]);
  });

  it("lets a watcher in another process hear a put made here", async () => {
    await ready();
    const ledger = `watched-${crypto.randomUUID()}`;
    const watcher = startChild(["watch", url, ledger]);
    await watcher.next((m) => m.ready === true, "ready");
    const backend = await openPostgresBackend(url);
    opened.push(backend);
    const [a, b] = await makeTestChain(2);
    await backend.putCommits(ledger, [a!, b!], "here");
    const message = await watcher.next((m) => "change" in m, "the change");
    expect(message.change).toEqual({
      heads: [b!.cid.toString()],
      added: [a!.cid.toString(), b!.cid.toString()],
      bytes: [a!.bytes.length, b!.bytes.length],
      hasOrigin: false,
    });
    watcher.child.stdin!.end();
  });
});
