// docs/protocol.md is the published protocol: this test keeps it and the code from drifting.
// Every message of CLIENT_MESSAGES / SERVER_MESSAGES has a section `### \`type\` (client →
// server)` (or server → client) whose first table lists exactly the schema's fields, with
// their CBOR types and required flags; the error table lists exactly ERROR_REASONS with
// their HTTP statuses and retryability; the example bytes are what the codec produces, and
// a Kiln SyncServer answers the worked example byte for byte as the doc shows.
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type * as z from "zod/mini";
import { cidFor } from "../src/blocks/cid.js";
import { encodeEnvelope } from "../src/blocks/envelope.js";
import { nodeCrypto } from "../src/blocks/node-crypto.js";
import { createMemoryBackend } from "../src/server/backends/memory-backend.js";
import {
  createSyncServer,
  DEFAULT_MAX_COMMITS,
  DEFAULT_MAX_MESSAGE,
  DEFAULT_POLL_CAP,
} from "../src/server/index.js";
import type { ClientMessage, Welcome } from "../src/sync/protocol/index.js";
import {
  CLIENT_MESSAGES,
  CONTENT_TYPE,
  FrameReader,
  STREAM_CONTENT_TYPE,
  ERROR_REASONS,
  HTTP_STATUS,
  MAX_CID_LIST,
  SERVER_MESSAGES,
  cidField,
  commitField,
  encodeMessage,
  frameMessage,
  isRetryable,
} from "../src/sync/protocol/index.js";

const root = resolve(import.meta.dirname, "..");
const doc = await readFile(join(root, "docs/protocol.md"), "utf8");
const lines = doc.split("\n");

type Table = Record<string, string>[];

/** The first Markdown table after line `from`, as rows keyed by header cell. */
function tableAfter(from: number): Table {
  let at = from;
  while (at < lines.length && !lines[at]!.startsWith("|")) {
    if (lines[at]!.startsWith("#")) throw new Error(`no table after ${from}`);
    at++;
  }
  const cells = (line: string) =>
    line
      .slice(1, line.lastIndexOf("|"))
      .split("|")
      .map((c) => c.trim());
  const header = cells(lines[at]!);
  const rows: Table = [];
  for (at += 2; at < lines.length && lines[at]!.startsWith("|"); at++)
    rows.push(
      Object.fromEntries(cells(lines[at]!).map((c, i) => [header[i]!, c])),
    );
  return rows;
}

const MESSAGE_HEADING =
  /^### `([a-z.]+)` \((client|server) → (server|client)\)$/;

/** Each message section of the doc: its type, direction and field table. */
const sections = lines.flatMap((line, at) => {
  const m = MESSAGE_HEADING.exec(line);
  return m
    ? [{ type: m[1]!, from: m[2]!, to: m[3]!, table: tableAfter(at + 1) }]
    : [];
});

/** The CBOR type a schema encodes as, in the vocabulary of the doc's "Field types". */
function cborType(schema: z.ZodMiniType): string {
  if (schema === cidField) return "CID";
  if (schema === commitField) return "commit";
  const def = schema._zod.def as z.core.$ZodTypeDef & {
    innerType?: z.ZodMiniType;
    element?: z.ZodMiniType;
  };
  switch (def.type) {
    case "optional":
      return cborType(def.innerType!);
    case "literal":
    case "string":
    case "enum":
      return "text";
    case "boolean":
      return "bool";
    case "number": {
      // z.int() is format "safeint"; z.minimum(0) a greater_than check, inclusive.
      const { format, checks = [] } = def as {
        format?: string;
        checks?: { _zod: { def: { check: string; value?: unknown } } }[];
      };
      const min = checks
        .map((c) => c._zod.def)
        .find((c) => c.check === "greater_than")?.value;
      if (format === "safeint" && typeof min === "number" && min >= 0)
        return "uint";
      throw new Error("a number field that is not a uint");
    }
    case "array":
      return `array of ${cborType(def.element!)}`;
    default:
      throw new Error(
        `no CBOR type for a zod ${def.type} in protocol-doc test`,
      );
  }
}

/** A table cell `\`name\`` → name. */
const code = (cell: string | undefined) => /^`([^`]+)`$/.exec(cell ?? "")?.[1];

describe("docs/protocol.md", () => {
  const directions = [
    ["client", CLIENT_MESSAGES],
    ["server", SERVER_MESSAGES],
  ] as const;

  it("has one section per message type, and no others", () => {
    const expected = directions.flatMap(([from, messages]) =>
      Object.keys(messages).map((type) => `${type} ${from}`),
    );
    expect(sections.map((s) => `${s.type} ${s.from}`).sort()).toEqual(
      expected.sort(),
    );
    for (const s of sections) expect(s.to).not.toBe(s.from);
  });

  for (const [from, messages] of directions)
    for (const [type, schema] of Object.entries(messages) as [
      string,
      z.ZodMiniObject,
    ][])
      it(`lists exactly the fields of ${type}`, () => {
        const section = sections.find(
          (s) => s.type === type && s.from === from,
        );
        expect(section, `section for ${type}`).toBeDefined();
        const documented = section!.table.map((row) => ({
          field: code(row.field),
          type: row["CBOR type"],
          required: row.required,
        }));
        const fields = Object.entries(
          schema.shape as Record<string, z.ZodMiniType>,
        );
        const actual = fields.map(([field, s]) => ({
          field,
          type: cborType(s),
          required: s.safeParse(undefined).success ? "no" : "yes",
        }));
        const byField = (
          a: { field: string | undefined },
          b: { field: string | undefined },
        ) => (a.field ?? "").localeCompare(b.field ?? "");
        expect(documented.sort(byField)).toEqual(actual.sort(byField));
        const t = section!.table.find((row) => code(row.field) === "t");
        expect(t?.meaning).toBe(`\`"${type}"\``);
      });

  it("lists exactly the error reasons with their HTTP status and retryability", () => {
    const at = lines.indexOf("## Errors");
    expect(at).toBeGreaterThan(0);
    const rows = tableAfter(at + 1).map((row) => ({
      reason: code(row.reason),
      status: Number(row.HTTP),
      retryable: row.retryable,
    }));
    expect(rows).toEqual(
      ERROR_REASONS.map((reason) => ({
        reason,
        status: HTTP_STATUS[reason],
        retryable: isRetryable(reason) ? "yes" : "no",
      })),
    );
  });

  it("states the CID list limit", () => {
    const limits = tableAfter(lines.indexOf("## Limits") + 1);
    const row = limits.find((r) => r.limit === "CIDs in a list");
    expect(row?.value).toMatch(new RegExp(`^${MAX_CID_LIST} `));
  });

  it("shows the bytes the codec produces in the worked example", () => {
    const { hello, welcome, envelopeA, a, b, pull, commits } = example();
    // A hex block's bytes: each line up to a `#` comment, whitespace removed.
    const blocks = [...doc.matchAll(/```hex\n([\s\S]*?)```/g)].map((m) =>
      m[1]!
        .split("\n")
        .map((line) => line.split("#")[0]!.replaceAll(/\s/g, ""))
        .join(""),
    );
    expect(blocks).toEqual(
      [hello, frameMessage(welcome), envelopeA, pull, commits].map(hex),
    );
    const text = doc.replaceAll(/\s+/g, " ");
    expect(text).toContain(`(${hello.length} bytes,`);
    expect(text).toContain(`envelope (${envelopeA.length} bytes)`);
    expect(text).toContain(`\`A\` = \`${a.toString()}\``);
    expect(text).toContain(`binary \`${hex(a.bytes)}\``);
    expect(text).toContain(`which is \`${b.toString()}\``);
  });

  it("gives the worked example as a Kiln SyncServer with default limits plays it", async () => {
    const { hello, welcome, envelopeA, a, envelopeB, b, commits } = example();
    const backend = createMemoryBackend();
    const server = createSyncServer({ backend });
    /** POSTs one message; returns the status and the response's frames. */
    const post = async (body: Uint8Array) => {
      const response = await server.fetch(
        new Request("http://127.0.0.1/kiln", {
          method: "POST",
          headers: { "content-type": CONTENT_TYPE },
          body: body as Uint8Array<ArrayBuffer>,
        }),
      );
      expect(response.headers.get("content-type")).toBe(STREAM_CONTENT_TYPE);
      const reader = new FrameReader(1 << 20);
      const frames = reader.push(new Uint8Array(await response.arrayBuffer()));
      reader.end();
      return { status: response.status, frames: frames.map(hex) };
    };
    try {
      expect(await post(hello)).toEqual({
        status: 200,
        frames: [hex(encodeMessage(welcome))],
      });
      const ledger = "orders";
      await post(
        encodeMessage({
          t: "push",
          id: 9,
          ledger,
          commits: [[a, envelopeA]],
        }),
      );
      // Over HTTP `live` is ignored; the answer is the one the doc shows.
      const pull: ClientMessage = { t: "pull", id: 2, ledger, have: [] };
      expect(await post(encodeMessage(pull))).toEqual({
        status: 200,
        frames: [
          hex(commits),
          hex(encodeMessage({ t: "heads", id: 2, ledger, heads: [a] })),
        ],
      });
      const push: ClientMessage = {
        t: "push",
        id: 3,
        ledger,
        commits: [[b, envelopeB]],
        heads: [b],
      };
      expect(await post(encodeMessage(push))).toEqual({
        status: 200,
        frames: [
          hex(
            encodeMessage({ t: "ack", id: 3, ledger, heads: [b], stored: 1 }),
          ),
        ],
      });
      const reconnect: ClientMessage = { t: "pull", id: 1, ledger, have: [b] };
      expect(await post(encodeMessage(reconnect))).toEqual({
        status: 200,
        frames: [hex(encodeMessage({ t: "heads", id: 1, ledger, heads: [b] }))],
      });
    } finally {
      await server.close();
      await backend.close();
    }
  });

  it("states Kiln's defaults and GET description as the server has them", async () => {
    const limits = tableAfter(lines.indexOf("## Limits") + 1);
    const value = (limit: string) =>
      limits.find((r) => r.limit === limit)?.value ?? "";
    expect(DEFAULT_MAX_MESSAGE).toBe(8 * 1024 * 1024);
    expect(value("message size")).toContain("Kiln: 8 MiB");
    expect(value("commits per push")).toContain(
      `Kiln: ${DEFAULT_MAX_COMMITS})`,
    );
    expect(value("`pull.wait`")).toContain(`Kiln: ${DEFAULT_POLL_CAP})`);

    const documented = /Kiln's is\s+`(\{.*\})`/.exec(doc)?.[1];
    expect(documented).toBeDefined();
    const backend = createMemoryBackend();
    const server = createSyncServer({ backend, secret: "s".repeat(16) });
    try {
      const response = await server.fetch(new Request("http://127.0.0.1/kiln"));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/json");
      expect(await response.json()).toEqual(JSON.parse(documented!));
    } finally {
      await server.close();
      await backend.close();
    }
  });
});

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** The messages and commits of the doc's worked example. */
function example() {
  const iv = (first: number) =>
    Uint8Array.from({ length: 12 }, (_, i) => first + i);
  const data = (first: number) =>
    Uint8Array.from({ length: 16 }, (_, i) => first + i);
  // Signed in form: the server checks that a commit names a writer and carries a
  // signature (of an open ledger; docs/security.md).
  const w = Uint8Array.from({ length: 32 }, (_, i) => 0x20 + i);
  const s = Uint8Array.from({ length: 64 }, (_, i) => 0x40 + i);
  const envelopeA = encodeEnvelope({
    v: 2,
    parents: [],
    iv: iv(0),
    data: data(0xa0),
    w,
    s,
  });
  const a = cidFor(nodeCrypto, envelopeA);
  const envelopeB = encodeEnvelope({
    v: 2,
    parents: [a],
    iv: iv(0x10),
    data: data(0xb0),
    w,
    s,
  });
  const b = cidFor(nodeCrypto, envelopeB);
  const welcome: Welcome = {
    t: "welcome",
    id: 1,
    v: 2,
    transports: ["ws", "http"],
    maxMessage: DEFAULT_MAX_MESSAGE,
    maxCommits: DEFAULT_MAX_COMMITS,
    server: "kiln",
  };
  return {
    envelopeA,
    a,
    envelopeB,
    b,
    hello: encodeMessage({ t: "hello", id: 1, v: [2], client: "kiln" }),
    welcome,
    pull: encodeMessage({
      t: "pull",
      id: 2,
      ledger: "orders",
      have: [],
      live: true,
    }),
    commits: encodeMessage({
      t: "commits",
      id: 2,
      total: 1,
      ledger: "orders",
      commits: [[a, envelopeA]],
    }),
  };
}
