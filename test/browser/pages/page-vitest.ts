// What a page sees as "vitest" (the harness aliases the import): describe / it / hooks that
// register into a list the Node side runs one by one, and vitest's own `expect` (the same
// @vitest/expect matchers over chai), so shared suites such as the gateway conformance suite
// run unchanged in Chromium.
import * as chai from "chai";
import type { expect as VitestExpect } from "vitest";
import {
  ASYMMETRIC_MATCHERS_OBJECT,
  GLOBAL_EXPECT,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  getState,
  setState,
} from "@vitest/expect";

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

type Fn = () => unknown;

interface Suite {
  readonly title: string;
  readonly parent: Suite | undefined;
  readonly before: Fn[];
  readonly after: Fn[];
  readonly beforeAll: Fn[];
  readonly afterAll: Fn[];
}

interface PageTest {
  readonly name: string;
  readonly suites: Suite[];
  readonly fn: Fn;
}

const root: Suite = {
  title: "",
  parent: undefined,
  before: [],
  after: [],
  beforeAll: [],
  afterAll: [],
};
let current = root;
const tests: PageTest[] = [];

function chain(suite: Suite): Suite[] {
  const out: Suite[] = [];
  for (let s: Suite | undefined = suite; s; s = s.parent) out.unshift(s);
  return out;
}

export function describe(title: string, body: () => void): void {
  const suite: Suite = {
    title,
    parent: current,
    before: [],
    after: [],
    beforeAll: [],
    afterAll: [],
  };
  const outer = current;
  current = suite;
  try {
    body();
  } finally {
    current = outer;
  }
}

export function it(title: string, fn: Fn): void {
  const suites = chain(current);
  const name = [...suites.map((s) => s.title).filter(Boolean), title].join(
    " > ",
  );
  tests.push({ name, suites, fn });
}
export const test = it;

export const beforeEach = (fn: Fn): void => void current.before.push(fn);
export const afterEach = (fn: Fn): void => void current.after.push(fn);
export const beforeAll = (fn: Fn): void => void current.beforeAll.push(fn);
export const afterAll = (fn: Fn): void => void current.afterAll.push(fn);

export const expect = ((value: unknown, message?: string) => {
  const { assertionCalls } = getState(expect as never);
  setState({ assertionCalls: assertionCalls + 1 }, expect as never);
  return chai.expect(value, message);
}) as unknown as typeof VitestExpect;
Object.assign(expect, chai.expect);
Object.assign(
  expect,
  (globalThis as Record<symbol, object>)[ASYMMETRIC_MATCHERS_OBJECT],
);
(globalThis as Record<symbol, unknown>)[GLOBAL_EXPECT] = expect;
setState(
  {
    assertionCalls: 0,
    isExpectingAssertions: false,
    isExpectingAssertionsError: null,
    expectedAssertionsNumber: null,
    expectedAssertionsNumberErrorGen: null,
  },
  expect as never,
);

const ranBeforeAll = new Set<Suite>();

/** Names of the registered tests, in order. */
export function listTests(): string[] {
  return tests.map((t) => t.name);
}

/** Runs one test with its hooks; rejects with the assertion's message. */
export async function runTest(name: string): Promise<void> {
  const found = tests.find((t) => t.name === name);
  if (!found) throw new Error(`no page test named ${name}`);
  for (const suite of found.suites)
    if (!ranBeforeAll.has(suite)) {
      ranBeforeAll.add(suite);
      for (const hook of suite.beforeAll) await hook();
    }
  for (const suite of found.suites)
    for (const hook of suite.before) await hook();
  let failure: unknown;
  try {
    await found.fn();
  } catch (error) {
    failure = error;
  }
  for (const suite of [...found.suites].reverse())
    for (const hook of suite.after) {
      try {
        await hook();
      } catch (error) {
        failure ??= error;
      }
    }
  if (failure !== undefined)
    throw failure instanceof Error
      ? failure
      : new Error(JSON.stringify(failure));
}
