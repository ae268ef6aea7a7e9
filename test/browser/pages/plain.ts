// Values that cross page.evaluate as JSON: bytes become { $bytes: base64url }, so a page and
// the Node side compare the same plain shape.
import { toBase64url } from "../../../src/util/bytes.js";

export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: toBase64url(value) };
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, plain(v)]),
    );
  return value;
}
