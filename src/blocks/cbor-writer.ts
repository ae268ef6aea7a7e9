// A minimal dag-cbor writer for the fixed shapes on every write's hot path (tree nodes,
// events, envelopes, CAR headers). It emits exactly what @ipld/dag-cbor emits for the same
// value; callers must write map keys in dag-cbor order (shorter keys first, then bytewise),
// and tests compare the bytes with the generic encoder.
import type { CID } from "multiformats/cid";
import { allocBytes, utf8Length } from "../util/bytes.js";

const encoder = new TextEncoder();

// One scratch buffer for all writers: encoders are synchronous and never nest, and each
// encode then costs a single exact-size allocation (finish) instead of two.
let scratch = new Uint8Array(64 * 1024);

export class CborWriter {
  #buf: Uint8Array;
  #at = 0;

  constructor(sizeHint = 256) {
    if (scratch.length < sizeHint)
      scratch = new Uint8Array(2 ** Math.ceil(Math.log2(sizeHint)));
    this.#buf = scratch;
  }

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#at));
    this.#buf = next;
    scratch = next;
  }

  #head(major: number, n: number): this {
    this.#room(9);
    const b = this.#buf;
    const m = major << 5;
    let at = this.#at;
    if (n < 24) b[at++] = m | n;
    else if (n < 0x100) {
      b[at++] = m | 24;
      b[at++] = n;
    } else if (n < 0x10000) {
      b[at++] = m | 25;
      b[at++] = n >>> 8;
      b[at++] = n & 0xff;
    } else if (n < 0x100000000) {
      b[at++] = m | 26;
      b[at++] = n >>> 24;
      b[at++] = (n >>> 16) & 0xff;
      b[at++] = (n >>> 8) & 0xff;
      b[at++] = n & 0xff;
    } else {
      b[at++] = m | 27;
      const hi = Math.floor(n / 0x100000000);
      const lo = n >>> 0;
      b[at++] = hi >>> 24;
      b[at++] = (hi >>> 16) & 0xff;
      b[at++] = (hi >>> 8) & 0xff;
      b[at++] = hi & 0xff;
      b[at++] = lo >>> 24;
      b[at++] = (lo >>> 16) & 0xff;
      b[at++] = (lo >>> 8) & 0xff;
      b[at++] = lo & 0xff;
    }
    this.#at = at;
    return this;
  }

  uint(n: number): this {
    return this.#head(0, n);
  }

  array(length: number): this {
    return this.#head(4, length);
  }

  map(size: number): this {
    return this.#head(5, size);
  }

  /** A JSON number: an integer in the safe range as an integer, anything else as float64. */
  number(n: number): this {
    if (Number.isSafeInteger(n))
      return n >= 0 ? this.#head(0, n) : this.#head(1, -1 - n);
    this.#room(9);
    this.#buf[this.#at++] = 0xfb;
    new DataView(this.#buf.buffer, this.#buf.byteOffset).setFloat64(
      this.#at,
      n,
      false,
    );
    this.#at += 8;
    return this;
  }

  bool(v: boolean): this {
    this.#room(1);
    this.#buf[this.#at++] = v ? 0xf5 : 0xf4;
    return this;
  }

  /**
   * A doc value (JSON plus Uint8Array; already validated). Map keys in dag-cbor order:
   * shorter UTF-8 first, then bytewise.
   */
  value(v: unknown): this {
    switch (typeof v) {
      case "string":
        return this.text(v);
      case "number":
        return this.number(v);
      case "boolean":
        return this.bool(v);
      case "object": {
        if (v === null) return this.null();
        if (v instanceof Uint8Array) return this.bytes(v);
        if (Array.isArray(v)) {
          this.array(v.length);
          for (const item of v) this.value(item);
          return this;
        }
        const o = v as Record<string, unknown>;
        const keys = Object.keys(o).filter((k) => o[k] !== undefined);
        keys.sort(compareMapKeys);
        this.map(keys.length);
        for (const k of keys) this.text(k).value(o[k]);
        return this;
      }
      default:
        throw new TypeError(`cbor writer: cannot encode a ${typeof v}`);
    }
  }

  null(): this {
    this.#room(1);
    this.#buf[this.#at++] = 0xf6;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#head(2, b.length);
    this.#room(b.length);
    this.#buf.set(b, this.#at);
    this.#at += b.length;
    return this;
  }

  text(s: string): this {
    let ascii = true;
    for (let i = 0; i < s.length; i++)
      if (s.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    if (!ascii) {
      const b = encoder.encode(s);
      this.#head(3, b.length);
      this.#room(b.length);
      this.#buf.set(b, this.#at);
      this.#at += b.length;
      return this;
    }
    this.#head(3, s.length);
    this.#room(s.length);
    const buf = this.#buf;
    const at = this.#at;
    for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i);
    this.#at += s.length;
    return this;
  }

  /** A CID link: tag 42 over the CID bytes with a leading 0x00. */
  cid(cid: CID): this {
    const bytes = cid.bytes;
    const n = bytes.length;
    if (n + 1 >= 24 && n + 1 < 256) {
      // The usual case (36-byte CIDs): tag 42, a one-byte-length byte string, 0x00, the bytes.
      this.#room(n + 5);
      const b = this.#buf;
      let at = this.#at;
      b[at++] = 0xd8;
      b[at++] = 42;
      b[at++] = 0x58;
      b[at++] = n + 1;
      b[at++] = 0;
      for (let i = 0; i < n; i++) b[at + i] = bytes[i]!;
      this.#at = at + n;
      return this;
    }
    this.#room(2);
    this.#buf[this.#at++] = 0xd8;
    this.#buf[this.#at++] = 42;
    this.#head(2, n + 1);
    this.#room(n + 1);
    this.#buf[this.#at++] = 0;
    this.#buf.set(bytes, this.#at);
    this.#at += n;
    return this;
  }

  /** Raw bytes already encoded. */
  raw(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#at);
    this.#at += b.length;
    return this;
  }

  get length(): number {
    return this.#at;
  }

  /** A copy of the encoded bytes (the scratch buffer is reused by the next writer). */
  finish(): Uint8Array {
    const out = allocBytes(this.#at);
    out.set(this.#buf.subarray(0, this.#at));
    return out;
  }
}

function compareMapKeys(a: string, b: string): number {
  const la = utf8Length(a);
  const lb = utf8Length(b);
  if (la !== lb) return la - lb;
  if (la === a.length && lb === b.length) return a < b ? -1 : a > b ? 1 : 0;
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

/** dag-cbor bytes of a validated doc value, byte-identical to @ipld/dag-cbor. */
export function encodeDocValue(value: unknown): Uint8Array {
  return new CborWriter(1024).value(value).finish();
}
