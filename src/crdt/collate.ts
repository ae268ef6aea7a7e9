// Index keys and their collation, CouchDB style: null < false < true < numbers < strings <
// arrays < objects. The prolly tree orders its keys as JavaScript strings (UTF-16 code
// units), so an index stores encodeKey(key): a string whose `<` order is compareKeys order,
// and which decodeKey turns back into the key.
//
// Two deliberate departures from CouchDB, so that every replica orders keys the same way
// whatever its ICU version or locale:
// - Strings compare by Unicode code points, not by ICU collation ("A" < "a" < "b").
// - Objects compare as the list of their [key, value] pairs in Object.keys order (CouchDB
//   also compares member by member in the order given). JavaScript puts integer-like keys
//   first, ascending, whatever the insertion order; {a:1, b:2} and {b:2, a:1} are different
//   keys.
//
// Encoding: one tag character per value, then its payload.
//   null "\u0001", false "\u0002", true "\u0003"
//   number "\u0004" + 16 lowercase hex digits of the float64 bits, sign bit flipped for
//     values >= 0 and all bits flipped for negatives (-0 is encoded as 0)
//   string "\u0005" + one unit per code point + "\u0000"; U+0000 and U+0001 are escaped as
//     "\u0001\u0001" and "\u0001\u0002"; U+0002..U+D7FF stand for themselves; code points
//     from U+E000 up take two units, U+E000 + (cp >> 12) then U+1000 + (cp & 0xfff)
//   array "\u0006" + each element + "\u0000"; object "\u0007" + (key as a string, value)
//     per member + "\u0000"
// The terminator "\u0000" sorts below every tag and every string unit, so shorter sorts
// first. An encoding never contains a surrogate, so it survives UTF-8 (dag-cbor) intact and
// its UTF-16 order is its code point order; that is also why code points >= U+E000 cannot
// stand for themselves: astral ones must sort above U+FFFF, and nothing single does.
import { CorruptError, InvalidArgumentError } from "../util/errors.js";

/** A key (or value) of an index row: any JSON value, ordered by CouchDB collation. */
export type IndexKey =
  null | boolean | number | string | IndexKey[] | { [k: string]: IndexKey };

const TAG_NULL = 1;
const TAG_FALSE = 2;
const TAG_TRUE = 3;
const TAG_NUMBER = 4;
const TAG_STRING = 5;
const TAG_ARRAY = 6;
const TAG_OBJECT = 7;
const END = "\u0000";
const ESCAPE = 1;
/** First unit of a two-unit code point (>= U+E000); the lead is LEAD + (cp >> 12). */
const LEAD = 0xe000;
const LEAD_MIN = LEAD + (0xe000 >> 12);
const LEAD_MAX = LEAD + (0x10ffff >> 12);
const TRAIL = 0x1000;

/** CouchDB collation with code point string order; see the top of this file. */
export function compareKeys(a: IndexKey, b: IndexKey): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case TAG_NUMBER:
      return sign((a as number) - (b as number));
    case TAG_STRING:
      return compareStrings(a as string, b as string);
    case TAG_ARRAY: {
      const xs = a as IndexKey[];
      const ys = b as IndexKey[];
      const n = Math.min(xs.length, ys.length);
      for (let i = 0; i < n; i++) {
        const c = compareKeys(xs[i]!, ys[i]!);
        if (c !== 0) return c;
      }
      return sign(xs.length - ys.length);
    }
    case TAG_OBJECT: {
      const xo = a as { [k: string]: IndexKey };
      const yo = b as { [k: string]: IndexKey };
      const xk = Object.keys(xo);
      const yk = Object.keys(yo);
      const n = Math.min(xk.length, yk.length);
      for (let i = 0; i < n; i++) {
        const c =
          compareStrings(xk[i]!, yk[i]!) ||
          compareKeys(xo[xk[i]!]!, yo[yk[i]!]!);
        if (c !== 0) return c;
      }
      return sign(xk.length - yk.length);
    }
    default:
      return 0;
  }
}

/** Whether a value a map function emitted is a key: see IndexKey; numbers must be finite. */
export function isIndexKey(v: unknown): v is IndexKey {
  return isKey(v, new Set());
}

function isKey(v: unknown, ancestors: Set<object>): boolean {
  switch (typeof v) {
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v);
    case "string":
      return v.isWellFormed();
    case "object": {
      if (v === null) return true;
      if (ancestors.has(v)) return false;
      ancestors.add(v);
      let ok: boolean;
      if (Array.isArray(v)) {
        ok = true;
        for (let i = 0; ok && i < v.length; i++) ok = isKey(v[i], ancestors);
      } else {
        const proto: unknown = Object.getPrototypeOf(v);
        ok = proto === Object.prototype || proto === null;
        const o = v as Record<string, unknown>;
        for (const k of ok ? Object.keys(o) : []) {
          ok = k.isWellFormed() && isKey(o[k], ancestors);
          if (!ok) break;
        }
      }
      ancestors.delete(v);
      return ok;
    }
    default:
      return false;
  }
}

/** An order-preserving string for a key; throws on a non-finite number or a lone surrogate. */
export function encodeKey(key: IndexKey): string {
  const out: string[] = [];
  writeKey(key, out);
  return out.join("");
}

function writeKey(key: IndexKey, out: string[]): void {
  if (key === null) out.push("\u0001");
  else if (key === false) out.push("\u0002");
  else if (key === true) out.push("\u0003");
  else if (typeof key === "number") out.push("\u0004", numberHex(key));
  else if (typeof key === "string") {
    out.push("\u0005");
    writeStringBody(key, out);
    out.push(END);
  } else if (Array.isArray(key)) {
    out.push("\u0006");
    for (const k of key) writeKey(k, out);
    out.push(END);
  } else if (typeof key === "object") {
    out.push("\u0007");
    for (const [k, v] of Object.entries(key)) {
      out.push("\u0005");
      writeStringBody(k, out);
      out.push(END);
      writeKey(v, out);
    }
    out.push(END);
  } else {
    throw new InvalidArgumentError(
      `encode index key: a ${typeof key} is not a key`,
    );
  }
}

const scratch = new DataView(new ArrayBuffer(8));

function numberHex(n: number): string {
  if (!Number.isFinite(n)) {
    throw new InvalidArgumentError(
      `encode index key: ${n} is not a finite number`,
    );
  }
  scratch.setFloat64(0, n === 0 ? 0 : n);
  let hi = scratch.getUint32(0);
  let lo = scratch.getUint32(4);
  if (hi >>> 31) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  } else {
    hi = (hi | 0x8000_0000) >>> 0;
  }
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}

function writeStringBody(s: string, out: string[]): void {
  let plain = 0;
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u > 1 && u < 0xd800) continue;
    // flush the run of units that stand for themselves
    if (i > plain) out.push(s.slice(plain, i));
    if (u <= 1) {
      out.push(String.fromCharCode(ESCAPE, u + 1));
    } else {
      const cp = s.codePointAt(i)!;
      if (cp >= 0xd800 && cp <= 0xdfff) {
        throw new InvalidArgumentError(
          `encode index key: string has a lone surrogate at index ${i}`,
        );
      }
      out.push(String.fromCharCode(LEAD + (cp >> 12), TRAIL + (cp & 0xfff)));
      if (cp > 0xffff) i++;
    }
    plain = i + 1;
  }
  if (plain < s.length) out.push(s.slice(plain));
}

/** The key encodeKey encoded; throws CorruptError on a string it cannot have produced. */
export function decodeKey(s: string): IndexKey {
  const r = new Reader(s);
  const key = r.key();
  if (r.at !== s.length) r.fail("trailing characters");
  return key;
}

class Reader {
  at = 0;
  constructor(readonly s: string) {}

  fail(detail: string): never {
    throw new CorruptError("index key", `${detail} at offset ${this.at}`);
  }

  unit(): number {
    if (this.at >= this.s.length) this.fail("unexpected end");
    return this.s.charCodeAt(this.at++);
  }

  key(): IndexKey {
    const tag = this.unit();
    switch (tag) {
      case TAG_NULL:
        return null;
      case TAG_FALSE:
        return false;
      case TAG_TRUE:
        return true;
      case TAG_NUMBER:
        return this.number();
      case TAG_STRING:
        return this.string();
      case TAG_ARRAY: {
        const items: IndexKey[] = [];
        while (!this.atEnd()) items.push(this.key());
        return items;
      }
      case TAG_OBJECT: {
        const o: { [k: string]: IndexKey } = {};
        const keys: string[] = [];
        while (!this.atEnd()) {
          if (this.unit() !== TAG_STRING)
            this.fail("object member name is not a string");
          const k = this.string();
          // a plain assignment to "__proto__" would set the prototype, not a member
          Object.defineProperty(o, k, {
            value: this.key(),
            enumerable: true,
            writable: true,
            configurable: true,
          });
          keys.push(k);
        }
        // duplicate names, or an order no JavaScript object has: encodeKey never wrote it
        const actual = Object.keys(o);
        if (
          actual.length !== keys.length ||
          actual.some((k, i) => k !== keys[i])
        ) {
          this.fail("object member names repeat or are out of order");
        }
        return o;
      }
      default:
        this.at--;
        return this.fail(`unknown tag ${tag}`);
    }
  }

  /** Consumes the END that closes an array or object, if it is next. */
  atEnd(): boolean {
    if (this.at >= this.s.length) this.fail("unterminated array or object");
    if (this.s.charCodeAt(this.at) !== 0) return false;
    this.at++;
    return true;
  }

  number(): number {
    const hex = this.s.slice(this.at, this.at + 16);
    if (!/^[0-9a-f]{16}$/.test(hex)) this.fail("malformed number");
    this.at += 16;
    let hi = parseInt(hex.slice(0, 8), 16);
    let lo = parseInt(hex.slice(8), 16);
    if (hi >>> 31) {
      hi = (hi & 0x7fff_ffff) >>> 0;
    } else {
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
    }
    scratch.setUint32(0, hi);
    scratch.setUint32(4, lo);
    const n = scratch.getFloat64(0);
    if (!Number.isFinite(n) || Object.is(n, -0))
      this.fail("non-canonical number");
    return n;
  }

  string(): string {
    const parts: string[] = [];
    let plain = this.at;
    for (;;) {
      const start = this.at;
      const u = this.unit();
      if (u > 1 && u < 0xd800) continue;
      if (start > plain) parts.push(this.s.slice(plain, start));
      if (u === 0) return parts.join("");
      if (u === ESCAPE) {
        const e = this.unit();
        if (e !== 1 && e !== 2) this.fail("bad escape");
        parts.push(String.fromCharCode(e - 1));
      } else {
        if (u < LEAD_MIN || u > LEAD_MAX) {
          this.at = start;
          this.fail("bad string unit");
        }
        const t = this.unit() - TRAIL;
        if (t < 0 || t > 0xfff) this.fail("bad string trail unit");
        parts.push(String.fromCodePoint(((u - LEAD) << 12) | t));
      }
      plain = this.at;
    }
  }
}

/**
 * The inclusive range of encoded keys holding every array key whose first elements are
 * `prefix` (an array prefix), or every string key starting with `prefix` (a string prefix).
 */
export function keyPrefixRange(prefix: IndexKey[] | string): {
  gte: string;
  lte: string;
} {
  let gte: string;
  if (typeof prefix === "string") {
    const out = ["\u0005"];
    writeStringBody(prefix, out);
    gte = out.join("");
  } else {
    const out = ["\u0006"];
    for (const k of prefix) writeKey(k, out);
    gte = out.join("");
  }
  // whatever follows the prefix in an encoding starts with a unit below U+FFFF
  return { gte, lte: gte + "\uffff" };
}

function rank(k: IndexKey): number {
  if (k === null) return TAG_NULL;
  if (k === false) return TAG_FALSE;
  if (k === true) return TAG_TRUE;
  if (typeof k === "number") return TAG_NUMBER;
  if (typeof k === "string") return TAG_STRING;
  return Array.isArray(k) ? TAG_ARRAY : TAG_OBJECT;
}

/** Code point order. UTF-16 order differs only where a surrogate meets a unit >= U+E000. */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) < codePointRank(y) ? -1 : 1;
  }
  return sign(a.length - b.length);
}

/** Moves surrogates above U+E000..U+FFFF, so well-formed strings compare by code point. */
function codePointRank(u: number): number {
  if (u < 0xd800) return u;
  return u < 0xe000 ? u + 0x2000 : u - 0x800;
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}
