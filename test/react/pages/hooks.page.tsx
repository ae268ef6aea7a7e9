// kiln/react's hooks in Chromium, rendered with @testing-library/react in StrictMode (effects
// run twice, as in development). Each test registers with the page's vitest shim and is run
// from Node (test/react/hooks.test.ts). Re-renders are counted as commits (an effect without
// dependencies), so "no re-render" is asserted by a later write that does re-render once.
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { StrictMode, useEffect } from "react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createRegistry,
  memoryGateway,
  openLedger,
} from "../../../src/index.browser.js";
import type {
  Connection,
  GatewayFactory,
  Ledger,
} from "../../../src/index.browser.js";
import {
  useConnection,
  useDoc,
  useLedger,
  useLedgerStatus,
  useLiveQuery,
} from "../../../src/react/index.browser.js";
import { listTests, runTest } from "../../browser/pages/page-vitest.js";

const config: { serverUrl?: string; token?: string } = {};
const unhandled: unknown[] = [];
window.addEventListener("unhandledrejection", (event) =>
  unhandled.push(event.reason),
);
let n = 0;
const fresh = (what: string) => `memory://react-${what}-${++n}`;
const opened: Ledger<object>[] = [];
async function open<T extends object = { v?: number }>(
  name: string,
  storage: string,
  key?: string,
): Promise<Ledger<T>> {
  const l = await openLedger<T>(name, key ? { storage, key } : { storage });
  opened.push(l as unknown as Ledger<object>);
  return l;
}

afterEach(async () => {
  cleanup();
  for (const l of opened.splice(0)) await l.close().catch(() => undefined);
  expect(unhandled.splice(0)).toEqual([]);
});

const strict = (node: ReactNode) => render(<StrictMode>{node}</StrictMode>);

/** Commits of a component after its first: a counter the test reads. */
function useCommits(counter: { n: number }): void {
  useEffect(() => {
    counter.n++;
  });
}

/** Resolves once `ledger` is closed (a read then rejects with ClosedError). */
async function closed(ledger: Ledger<object>): Promise<void> {
  await waitFor(async () =>
    expect(await ledger.allDocs().catch((e: { code?: string }) => e.code)).toBe(
      "closed",
    ),
  );
}

describe("useLedger", () => {
  it("opens a ledger once for every component and render, and closes it after the last unmounts", async () => {
    let opens = 0;
    const counting: GatewayFactory<unknown> = {
      ...(memoryGateway as GatewayFactory<unknown>),
      open: (options) => {
        opens++;
        return memoryGateway.open(options as never);
      },
    };
    const registry = createRegistry([counting]);
    const storage = fresh("once");
    const seen = new Set<Ledger<object>>();
    function User({ label }: { label: string }) {
      // A new options object each render.
      const ledger = useLedger("orders", { storage, registry });
      if (ledger) seen.add(ledger as Ledger<object>);
      return <p>{`${label}: ${ledger ? "open" : "opening"}`}</p>;
    }
    function App({ users, tick }: { users: number; tick: number }) {
      return (
        <div data-tick={tick}>
          {Array.from({ length: users }, (_, i) => (
            <User key={i} label={`user${i}`} />
          ))}
        </div>
      );
    }
    const view = strict(<App users={2} tick={0} />);
    await screen.findByText("user0: open");
    await screen.findByText("user1: open");
    view.rerender(
      <StrictMode>
        <App users={3} tick={1} />
      </StrictMode>,
    );
    await screen.findByText("user2: open");
    expect(opens).toBe(1);
    expect(seen.size).toBe(1);
    const [ledger] = [...seen];
    view.rerender(
      <StrictMode>
        <App users={1} tick={2} />
      </StrictMode>,
    );
    await ledger!.put({ _id: "still-open" });
    view.unmount();
    await closed(ledger!);
  });

  it("reports an open that failed as a value: a wrong key", async () => {
    const storage = fresh("wrong-key");
    const first = await openLedger("orders", { storage });
    await first.put({ _id: "a" });
    await first.close();
    const other = await open("other", fresh("other"));
    function Status() {
      const status = useLedgerStatus("orders", { storage, key: other.key });
      const ledger = useLedger("orders", { storage, key: other.key });
      return (
        <p>
          {status.kind === "failed"
            ? `failed: ${(status.error as { code: string }).code} ${ledger === undefined ? "undefined" : "a ledger"}`
            : status.kind}
        </p>
      );
    }
    strict(<Status />);
    await screen.findByText("failed: decrypt undefined");
  });

  it("gives undefined for an undefined name", () => {
    function Nameless() {
      const status = useLedgerStatus(undefined);
      return <p>{status.kind}</p>;
    }
    strict(<Nameless />);
    expect(screen.getByText("opening")).toBeTruthy();
  });
});

describe("useDoc", () => {
  it("follows local and merged writes, and re-renders only when the doc changes", async () => {
    const storage = fresh("doc");
    const room = fresh("doc-room");
    const remote = await open("orders", fresh("doc-remote"));
    const cr = remote.connect(room);
    const commits = { n: 0 };
    let api: ReturnType<typeof useDoc<{ v?: number }>> | undefined;
    function Doc() {
      const ledger = useLedger<{ v?: number }>("orders", {
        storage,
        key: remote.key,
      });
      useConnection(ledger, room);
      const doc = useDoc(ledger, "d");
      api = doc;
      useCommits(commits);
      return (
        <p>
          {doc.loading ? "loading" : doc.doc ? `v=${doc.doc.v}` : "missing"}
        </p>
      );
    }
    strict(<Doc />);
    await screen.findByText("missing");
    await remote.put({ _id: "d", v: 1 }); // merged from the other replica
    await screen.findByText("v=1");
    const before = commits.n;
    await remote.put({ _id: "other", v: 9 }); // another doc
    await remote.put({ _id: "d", v: 1 }); // the same value again
    await remote.put({ _id: "d", v: 2 });
    await screen.findByText("v=2");
    expect(commits.n - before).toBe(1);
    await act(async () => {
      await api!.save((current) => ({ v: (current?.v ?? 0) + 1 }));
    });
    await screen.findByText("v=3");
    await cr.synced();
    await waitFor(async () => expect((await remote.get("d")).v).toBe(3));
    await act(async () => {
      await api!.remove();
    });
    await screen.findByText("missing");
  });

  it("shows a refused write as an error value, never a rejection", async () => {
    const schema = z.object({ title: z.string().min(1) });
    const storage = fresh("schema");
    let save: ((title: string) => void) | undefined;
    function Edit() {
      const ledger = useLedger("notes", { storage, schema });
      const { doc, save: write, error } = useDoc(ledger, "n");
      save = (title) => void write({ title });
      return (
        <p>
          {`${doc?.title ?? "-"} ${
            error ? (error as { code: string }).code : "ok"
          }`}
        </p>
      );
    }
    strict(<Edit />);
    await waitFor(() => expect(save).toBeDefined());
    await screen.findByText("- ok");
    act(() => save!("")); // fails the schema; the promise is dropped on purpose
    await screen.findByText("- schema");
    act(() => save!("fine"));
    await screen.findByText("fine ok");
  });
});

describe("useLiveQuery", () => {
  it("shows the rows and re-renders only when they change", async () => {
    const storage = fresh("live");
    const commits = { n: 0 };
    let ledger: Ledger<{ status: string }> | undefined;
    function Open() {
      const l = useLedger<{ status: string }>("orders", { storage });
      ledger = l;
      const { rows, loading } = useLiveQuery(l, "status", { key: "open" });
      useCommits(commits);
      return (
        <p>{loading ? "loading" : `open: [${rows.map((r) => r.id).join()}]`}</p>
      );
    }
    strict(<Open />);
    await screen.findByText("open: []");
    await ledger!.put({ _id: "a", status: "open" });
    await screen.findByText("open: [a]");
    const before = commits.n;
    await ledger!.put({ _id: "b", status: "closed" }); // not in the result
    await ledger!.put({ _id: "c", status: "open" });
    await screen.findByText("open: [a,c]");
    expect(commits.n - before).toBe(1);
  });

  it("shows a failing query as an error value", async () => {
    const storage = fresh("live-error");
    function Bad() {
      const l = useLedger("orders", { storage });
      const { error, loading } = useLiveQuery(l, "status", { limit: -1 });
      return (
        <p>
          {error
            ? `error ${(error as { code: string }).code}`
            : String(loading)}
        </p>
      );
    }
    strict(<Bad />);
    await screen.findByText("error invalid-argument");
  });
});

describe("hooks without a ledger yet", () => {
  it("accept undefined and show loading states", () => {
    function Waiting() {
      const doc = useDoc(undefined, "x");
      const query = useLiveQuery(undefined, "status");
      const conn = useConnection(undefined, "memory://nowhere");
      return (
        <p>
          {`${doc.loading} ${query.loading} ${query.rows.length} ${conn.status.kind}`}
        </p>
      );
    }
    strict(<Waiting />);
    expect(screen.getByText("true true 0 connecting")).toBeTruthy();
  });
});

describe("useConnection", () => {
  it("shows status and pending, shares one connection, and closes it on unmount", async () => {
    const storage = fresh("conn");
    const room = fresh("conn-room");
    const remote = await open("orders", fresh("conn-remote"));
    remote.connect(room);
    let ledger: Ledger<{ v?: number }> | undefined;
    const connections = new Set<Connection>();
    function Sync({ label }: { label: string }) {
      const l = useLedger<{ v?: number }>("orders", {
        storage,
        key: remote.key,
      });
      ledger = l;
      const { status, pending, connection } = useConnection(l, room, {});
      if (connection) connections.add(connection);
      return <p>{`${label} ${status.kind} ${pending}`}</p>;
    }
    const view = strict(
      <>
        <Sync label="a" />
        <Sync label="b" />
      </>,
    );
    await screen.findByText("a live 0");
    await screen.findByText("b live 0");
    expect(connections.size).toBe(1);
    await ledger!.put({ _id: "x", v: 1 });
    await waitFor(async () => expect((await remote.get("x")).v).toBe(1));
    await screen.findByText("a live 0");
    const [connection] = [...connections];
    view.unmount();
    await waitFor(() => expect(connection!.status.kind).toBe("closed"));
  });

  it("shows a refused token as an error value", async () => {
    const storage = fresh("token");
    function Refused() {
      const l = useLedger("orders", { storage });
      const { status, error } = useConnection(l, config.serverUrl, {
        token: "kiln1.bogus.token",
        backoff: { baseMs: 50, maxMs: 200 },
      });
      const e = error as { code?: string; reason?: string } | undefined;
      return <p>{`${status.kind} ${e ? `${e.code} ${e.reason}` : "-"}`}</p>;
    }
    strict(<Refused />);
    await screen.findByText("backoff protocol unauthorized");
  });

  it("counts writes the remote has not taken as pending, from the connection's event", async () => {
    const storage = fresh("pending");
    let ledger: Ledger<{ v?: number }> | undefined;
    function Unsent() {
      const l = useLedger<{ v?: number }>("orders", { storage });
      ledger = l;
      // One refusal, then no status change for a minute: only the event can tell.
      const { status, pending } = useConnection(l, config.serverUrl, {
        token: "kiln1.bogus.token",
        backoff: { baseMs: 60_000, maxMs: 60_000 },
      });
      return <p>{`${status.kind} pending ${pending}`}</p>;
    }
    strict(<Unsent />);
    await screen.findByText("backoff pending 0");
    await act(async () => {
      await ledger!.put({ _id: "a", v: 1 });
      await ledger!.put({ _id: "b", v: 2 });
    });
    await screen.findByText("backoff pending 2");
  });
});

Object.assign(globalThis, {
  kiln: {
    listTests,
    runTest,
    configure(values: typeof config) {
      Object.assign(config, values);
    },
  },
});
