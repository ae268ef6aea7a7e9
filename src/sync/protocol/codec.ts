// Encoding and validation of protocol messages. A message is one deterministic CBOR map
// (dag-cbor rules); every message read from the wire is checked against its schema before
// use, and anything else becomes a ProtocolError with a wire reason.
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import * as z from "zod/mini";
import { ack } from "./ack.js";
import { commits } from "./commits.js";
import { error, ProtocolError } from "./error.js";
import { heads } from "./heads.js";
import { hello } from "./hello.js";
import { ping, pong } from "./ping.js";
import { pull } from "./pull.js";
import { push } from "./push.js";
import { publish, snapshot } from "./snapshot.js";
import { deleted, deleteLedger } from "./delete.js";
import { upload, uploads } from "./upload.js";
import { welcome } from "./welcome.js";

/** The version this code speaks (docs/protocol.md is its specification). */
export const PROTOCOL_VERSION = 2;

/** Protocol versions this code speaks, newest last. Version 1 is no longer spoken. */
export const PROTOCOL_VERSIONS: readonly number[] = [PROTOCOL_VERSION];

/** Messages a client sends, by type. */
export const CLIENT_MESSAGES = {
  hello,
  pull,
  push,
  ping,
  upload,
  publish,
  delete: deleteLedger,
} as const;
/** Messages a server sends, by type. */
export const SERVER_MESSAGES = {
  welcome,
  commits,
  heads,
  ack,
  pong,
  error,
  uploads,
  snapshot,
  deleted,
} as const;

export type ClientMessage = z.output<
  (typeof CLIENT_MESSAGES)[keyof typeof CLIENT_MESSAGES]
>;
export type ServerMessage = z.output<
  (typeof SERVER_MESSAGES)[keyof typeof SERVER_MESSAGES]
>;

/** Encodes a message: CIDs become binary CID byte strings. */
export function encodeMessage(
  message: ClientMessage | ServerMessage,
): Uint8Array {
  return dagCbor.encode(toWire(message));
}

function toWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return value;
  const cid = CID.asCID(value);
  if (cid) return cid.bytes;
  if (Array.isArray(value)) return value.map(toWire);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      if (v !== undefined) out[k] = toWire(v);
    return out;
  }
  return value;
}

export function decodeClientMessage(
  bytes: Uint8Array,
  maxMessage: number,
): ClientMessage {
  return decodeWith(CLIENT_MESSAGES, bytes, maxMessage) as ClientMessage;
}

export function decodeServerMessage(
  bytes: Uint8Array,
  maxMessage: number,
): ServerMessage {
  return decodeWith(SERVER_MESSAGES, bytes, maxMessage) as ServerMessage;
}

/** The request id of a message that failed validation, when one can be read from it. */
export function requestIdOf(bytes: Uint8Array): number | undefined {
  try {
    const value = dagCbor.decode<Record<string, unknown> | null>(bytes);
    const id = value?.id;
    return Number.isSafeInteger(id) && (id as number) >= 0
      ? (id as number)
      : undefined;
  } catch {
    return undefined;
  }
}

function decodeWith(
  schemas: Record<string, z.ZodMiniType>,
  bytes: Uint8Array,
  maxMessage: number,
): unknown {
  if (bytes.length > maxMessage)
    throw new ProtocolError(
      "too-large",
      `message of ${bytes.length} bytes exceeds the limit of ${maxMessage}`,
    );
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch (cause) {
    throw new ProtocolError("bad-frame", "message is not valid dag-cbor", {
      cause,
    });
  }
  if (
    typeof value !== "object" ||
    value === null ||
    Array.isArray(value) ||
    value instanceof Uint8Array ||
    CID.asCID(value) !== null
  )
    throw new ProtocolError("bad-frame", "message is not a CBOR map");
  const type = (value as Record<string, unknown>).t;
  if (typeof type !== "string")
    throw new ProtocolError("bad-message", "message has no string field t");
  const schema = Object.hasOwn(schemas, type) ? schemas[type] : undefined;
  if (!schema)
    throw new ProtocolError(
      "unknown-type",
      `unknown message type ${JSON.stringify(type.slice(0, 64))}`,
    );
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new ProtocolError(
      "bad-message",
      `${type}: ${z.prettifyError(parsed.error).slice(0, 1024)}`,
    );
  return parsed.data;
}

/** The highest version both sides speak, or undefined. */
export function chooseVersion(offered: readonly number[]): number | undefined {
  let best: number | undefined;
  for (const v of offered)
    if (PROTOCOL_VERSIONS.includes(v) && (best === undefined || v > best))
      best = v;
  return best;
}

// HTTP bodies: a request body is one message; a response body is a sequence of messages,
// each preceded by its length as a 4-byte big-endian unsigned integer.

export function frameMessage(message: ServerMessage): Uint8Array {
  const body = encodeMessage(message);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/**
 * Splits length-prefixed frames as bytes arrive; yields each whole frame's body. Each byte is
 * copied once, into its frame, however the stream is chunked.
 */
export class FrameReader {
  readonly #prefix = new Uint8Array(4);
  #prefixLength = 0;
  #body: Uint8Array | undefined;
  #filled = 0;

  constructor(readonly maxMessage: number) {}

  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let at = 0;
    for (;;) {
      if (this.#body === undefined) {
        const take = Math.min(4 - this.#prefixLength, chunk.length - at);
        this.#prefix.set(chunk.subarray(at, at + take), this.#prefixLength);
        this.#prefixLength += take;
        at += take;
        if (this.#prefixLength < 4) return frames;
        const length = new DataView(this.#prefix.buffer).getUint32(0);
        if (length > this.maxMessage)
          throw new ProtocolError(
            "too-large",
            `response frame of ${length} bytes exceeds ${this.maxMessage}`,
          );
        this.#prefixLength = 0;
        this.#body = new Uint8Array(length);
        this.#filled = 0;
      }
      const take = Math.min(
        this.#body.length - this.#filled,
        chunk.length - at,
      );
      this.#body.set(chunk.subarray(at, at + take), this.#filled);
      this.#filled += take;
      at += take;
      if (this.#filled < this.#body.length) return frames;
      frames.push(this.#body);
      this.#body = undefined;
    }
  }

  /** Throws unless the stream ended on a frame boundary. */
  end(): void {
    if (this.#prefixLength > 0 || this.#body !== undefined)
      throw new ProtocolError("bad-frame", "response ended inside a frame");
  }
}

export const CONTENT_TYPE = "application/vnd.kiln+cbor";
export const STREAM_CONTENT_TYPE = "application/vnd.kiln.frames+cbor";
