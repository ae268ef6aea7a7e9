// A minimal dag-cbor writer for the fixed shapes on every write's hot path (tree nodes,
// events, envelopes, CAR headers). It emits exactly what @ipld/dag-cbor emits for the same
// value; callers must write map keys in dag-cbor order (shorter keys first, then bytewise),
// and tests compare the bytes with the generic encoder.
import type { CID } from "multiformats/cid";
import { allocBytes } from "../util/bytes.js";

const encoder = new TextEncoder();

// One scratch buffer for all writers: encoders are synchronous and never nest, and each
// encode then costs a single exact-size allocation (finish) instead of two.
let scratch = new Uint8Array(64 * 1024);

export class CborWriter {
  #buf: Uint8Array;
  #at = 0;

  constructor(sizeHint = 256) {
    if (scratch.length < sizeHint) scratch = new Uint8Array(2 ** Math.ceil(Math.log2(sizeHint)));
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
    } else throw new RangeError("cbor writer: integers above 2^32 are not supported");
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
    this.#room(2);
    this.#buf[this.#at++] = 0xd8;
    this.#buf[this.#at++] = 42;
    this.#head(2, bytes.length + 1);
    this.#room(bytes.length + 1);
    this.#buf[this.#at++] = 0;
    this.#buf.set(bytes, this.#at);
    this.#at += bytes.length;
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
