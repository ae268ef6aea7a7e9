// What a document may be, checked once at the API boundary so the layers below can trust it.
import { InvalidDocError } from "../util/errors.js";
import { utf8Length } from "../util/bytes.js";

/** Values a doc may hold: JSON plus Uint8Array. */
export type DocValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | DocValue[]
  | { [key: string]: DocValue };

/** The fields of an untyped doc: any JSON values (and Uint8Array) by name. */
export type DocFields = { [key: string]: DocValue };

/**
 * A stored doc as reads return it: the fields of `T` plus its string `_id`. `T` is the
 * ledger's document type (`openLedger<Trade>("trades")`); untyped ledgers use
 * {@link DocFields}.
 */
export type Doc<T extends object = DocFields> = T & { _id: string };

/**
 * A doc as given to `put()`: the fields of `T`, with `_id` optional (one is generated when
 * it is absent). Fields whose value is `undefined` are left out, as `JSON.stringify` does.
 */
export type DocInput<T extends object = DocFields> = T extends unknown
  ? string extends keyof T
    ? { _id?: string } & { [key: string]: DocValue | undefined }
    : Omit<T, "_id"> & { _id?: string }
  : never;

/** Longest `_id`, in bytes of UTF-8. */
export const MAX_ID_BYTES = 1024;
/** Largest encoded doc body (dag-cbor, without `_id`). */
export const MAX_DOC_BYTES = 1024 * 1024;
const MAX_DEPTH = 64;

export function checkId(id: unknown): string {
  if (typeof id !== "string")
    throw new InvalidDocError(
      "invalid-id",
      `_id must be a string, got ${typeOf(id)}`,
    );
  if (id.length === 0)
    throw new InvalidDocError("invalid-id", "_id must not be empty");
  if (utf8Length(id) > MAX_ID_BYTES)
    throw new InvalidDocError(
      "invalid-id",
      `_id is longer than ${MAX_ID_BYTES} bytes of utf-8`,
    );
  if (!id.isWellFormed())
    throw new InvalidDocError(
      "invalid-id",
      "_id is not well-formed unicode (lone surrogate)",
    );
  return id;
}

/** Checks a doc and returns its body (the doc without `_id`). */
export function checkDocBody(
  doc: unknown,
  id: string | undefined,
): Record<string, DocValue> {
  if (!isPlainObject(doc))
    throw new InvalidDocError(
      "invalid-doc",
      `a doc must be a plain object, got ${typeOf(doc)}`,
      id,
    );
  const body: Record<string, DocValue> = {};
  for (const key of Object.keys(doc)) {
    if (key === "_id") continue;
    if (key.startsWith("_"))
      throw new InvalidDocError(
        "invalid-doc",
        `field ${JSON.stringify(key)} is reserved: top-level fields starting with _ are not allowed`,
        id,
      );
    const value = doc[key];
    if (value === undefined) continue; // as JSON.stringify does
    checkValue(value, `${key}`, 1, id);
    body[key] = value as DocValue;
  }
  return body;
}

function checkValue(
  value: unknown,
  path: string,
  depth: number,
  id: string | undefined,
): void {
  if (depth > MAX_DEPTH)
    throw new InvalidDocError(
      "invalid-doc",
      `doc nests deeper than ${MAX_DEPTH} levels at ${path}`,
      id,
    );
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed())
        throw new InvalidDocError(
          "invalid-doc",
          `string at ${path} has a lone surrogate`,
          id,
        );
      return;
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value))
        throw new InvalidDocError(
          "invalid-doc",
          `number at ${path} is not finite`,
          id,
        );
      return;
    case "object":
      if (value === null || value instanceof Uint8Array) return;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item === undefined)
            throw new InvalidDocError(
              "invalid-doc",
              `array at ${path} has a hole or undefined at ${i}`,
              id,
            );
          checkValue(item, `${path}[${i}]`, depth + 1, id);
        }
        return;
      }
      if (!isPlainObject(value))
        throw new InvalidDocError(
          "invalid-doc",
          `value at ${path} is a ${typeOf(value)}, not JSON`,
          id,
        );
      for (const key of Object.keys(value)) {
        const v = value[key];
        if (v !== undefined) checkValue(v, `${path}.${key}`, depth + 1, id);
      }
      return;
    default:
      throw new InvalidDocError(
        "invalid-doc",
        `value at ${path} is a ${typeof value}, not JSON`,
        id,
      );
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "object")
    return (v.constructor as { name?: string } | undefined)?.name ?? "object";
  return typeof v;
}

/**
 * Generates ids that sort later the later they are made in a process: a fixed-width
 * base-36 millisecond time, a per-process sequence, and 8 random base-36 characters.
 */
export function createIdGenerator(
  now: () => number,
  random: (n: number) => Uint8Array,
): () => string {
  let lastTime = 0;
  let seq = 0;
  return () => {
    let t = now();
    if (t <= lastTime) {
      t = lastTime;
      seq++;
    } else {
      lastTime = t;
      seq = 0;
    }
    const r = random(8);
    let tail = "";
    for (const b of r) tail += (b % 36).toString(36);
    return `${t.toString(36).padStart(9, "0")}${seq.toString(36).padStart(5, "0")}${tail}`;
  };
}
