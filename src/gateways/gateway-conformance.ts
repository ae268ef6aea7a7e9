// The behaviour every Gateway must show, as a vitest suite a third party runs in ten lines:
//
//   import { describeGatewayConformance } from "kiln/conformance";
//   describeGatewayConformance("s3", () => s3Gateway.open(s3Gateway.parse(new URL(url))), {
//     openSibling: (first) => s3Gateway.open(s3Gateway.parse(new URL(first.url))),
//   });
//
// It touches the gateway only through the Gateway interface, uses fresh random commits and
// fresh ledger names, and asserts only on what it wrote, so it also runs against a store
// that already holds data (a long-lived remote). It imports nothing from Node, so a browser
// gateway can run it under a browser test runner.
import { afterEach, describe, it } from "vitest";
import type { Gateway } from "./gateway.js";
import { describeCommitCases } from "./conformance/commit-cases.js";
import { describeHandleCases } from "./conformance/handle-cases.js";
import type { GatewayConformanceCase } from "./conformance/kit.js";
import { describeLocalCases } from "./conformance/local-cases.js";

export type { GatewayConformanceCase } from "./conformance/kit.js";

export interface GatewayConformanceOptions {
  /**
   * Opens a second handle onto the store `first` uses (the same room, folder or server).
   * Enables the watch cases and the two-writer concurrency case.
   */
  openSibling?: (first: Gateway) => Promise<Gateway>;
  /**
   * Cases the gateway does not run, each with the reason (write it down where the gateway is
   * documented). They are not registered at all: a run never reports a skipped assertion.
   */
  skip?: Partial<Record<GatewayConformanceCase, string>>;
  /** How long a watch case waits for a notification before failing (default 5000 ms). */
  watchTimeoutMs?: number;
}

export function describeGatewayConformance(
  name: string,
  open: () => Promise<Gateway>,
  options: GatewayConformanceOptions = {},
): void {
  const run = globalThis.crypto.randomUUID().slice(0, 8);
  let counter = 0;
  const fresh = (label: string): string =>
    `conformance-${run}-${label}-${++counter}`;
  const opened: Gateway[] = [];
  const track = (g: Gateway): Gateway => {
    opened.push(g);
    return g;
  };
  const openTracked = async (): Promise<Gateway> => track(await open());
  const openSibling = options.openSibling;
  const watchTimeoutMs = options.watchTimeoutMs ?? 5000;
  // Cases that need two handles on one store exist only when the gateway can open a second.
  const itWithSibling = (title: string, fn: () => Promise<void>): void => {
    if (openSibling) it(title, fn);
  };

  const section = (kase: GatewayConformanceCase, body: () => void): void => {
    if (options.skip?.[kase] === undefined) describe(kase, body);
  };

  describe(`gateway conformance: ${name}`, () => {
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((g) => g.close()));
    });
    const kit = {
      fresh,
      open,
      openTracked,
      track,
      openSibling,
      itWithSibling,
      section,
      watchTimeoutMs,
    };
    describeCommitCases(kit);
    describeHandleCases(kit);
    describeLocalCases(kit);
  });
}
