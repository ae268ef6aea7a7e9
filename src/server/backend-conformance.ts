// The behaviour every SyncServer Backend must show, as a vitest suite a backend runs in a few
// lines (the memory and embedded backends do, in backends/*.test.ts; Postgres in
// test/server/postgres-conformance.test.ts):
//
//   describeBackendConformance("postgres", () => openPostgresBackend(url), {
//     reopen: async (closed) => openPostgresBackend(url),
//   });
//
// It touches the backend only through the Backend interface, uses fresh ledger names and
// fresh commits, and asserts only on what it wrote, so it also runs against a store that
// already holds data. It imports nothing from Node. The cases live in backend-conformance/,
// one file per group of duties.
import { afterEach, describe } from "vitest";
import type { Backend } from "./backend.js";
import { dropCase } from "./backend-conformance-drop.js";
import { describeChangeCases } from "./backend-conformance/change-cases.js";
import { describeCommitCases } from "./backend-conformance/commit-cases.js";
import { createKit } from "./backend-conformance/kit.js";
import type { BackendConformanceOptions } from "./backend-conformance/kit.js";
import { describeLedgerCases } from "./backend-conformance/ledger-cases.js";
import { describeLifecycleCases } from "./backend-conformance/lifecycle-cases.js";

export type {
  BackendConformanceCase,
  BackendConformanceOptions,
} from "./backend-conformance/kit.js";

export function describeBackendConformance(
  name: string,
  open: () => Promise<Backend>,
  options: BackendConformanceOptions = {},
): void {
  const kit = createKit(open, options);
  describe(`backend conformance: ${name}`, () => {
    afterEach(async () => {
      await Promise.all(kit.opened.splice(0).map((b) => b.close()));
    });
    describeCommitCases(kit);
    describeChangeCases(kit);
    describeLifecycleCases(kit);
    describeLedgerCases(kit);
    kit.section("drop", () =>
      dropCase({
        openTracked: kit.openTracked,
        fresh: kit.fresh,
        track: (b) => kit.opened.push(b),
        ...(options.storedBytes ? { storedBytes: options.storedBytes } : {}),
        ...(options.reopen ? { reopen: options.reopen } : {}),
      }),
    );
  });
}
