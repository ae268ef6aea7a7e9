// dag-cbor: deterministic CBOR with CID links (tag 42). Map keys are sorted by the codec,
// so the same value always gives the same bytes and the same CID.
import * as dagCbor from "@ipld/dag-cbor";
import { CorruptError } from "../util/errors.js";

export function encodeValue(value: unknown): Uint8Array {
  return dagCbor.encode(value);
}

export function decodeValue<T = unknown>(
  bytes: Uint8Array,
  subject: string,
): T {
  try {
    return dagCbor.decode(bytes);
  } catch (error) {
    throw new CorruptError(subject, "not valid dag-cbor", { cause: error });
  }
}
