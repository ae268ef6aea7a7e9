// Deterministic benchmark documents: doc i is a pure function of (seed, i), so every
// system and every child process sees byte-identical documents without shipping them.

/** 32-bit mix (splitmix-style finaliser); a bijection on uint32. */
function mix32(x) {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** mulberry32: small, fast, good enough for synthetic data. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CUSTOMERS = [
  "acme",
  "globex",
  "initech",
  "umbrella",
  "hooli",
  "stark",
  "wayne",
  "tyrell",
  "wonka",
  "cyberdyne",
];
const STATUS = ["open", "approved", "shipped", "invoiced", "closed"];
const CURRENCY = ["EUR", "USD", "GBP", "JPY", "CHF"];
const WORDS = [
  "rush",
  "fragile",
  "pallet",
  "cold-chain",
  "priority",
  "partial",
  "backorder",
  "dock-7",
  "signed",
  "hazmat",
  "return",
  "bulk",
];
const BASE_TIME = Date.UTC(2025, 0, 1);

/**
 * A stable, unique, unordered id for index i: mix32 is a bijection, so distinct
 * (seed, i) below 2^32 give distinct ids, and insertion order is not key order.
 */
export function docId(seed, i) {
  return (
    "o" +
    mix32((i ^ Math.imul(seed, 0x9e3779b1)) >>> 0)
      .toString(16)
      .padStart(8, "0") +
    i.toString(36)
  );
}

/** An order-like JSON document of roughly 200 bytes. */
export function makeDoc(seed, i) {
  const r = rng(mix32(seed ^ mix32(i + 1)));
  const pick = (arr) => arr[Math.floor(r() * arr.length)];
  const nItems = r() < 0.7 ? 1 : 2;
  const items = [];
  for (let k = 0; k < nItems; k++) {
    items.push({
      sku:
        "SKU-" +
        Math.floor(r() * 100000)
          .toString()
          .padStart(5, "0"),
      qty: 1 + Math.floor(r() * 20),
    });
  }
  const doc = {
    _id: docId(seed, i),
    customer: pick(CUSTOMERS) + "-" + Math.floor(r() * 1000),
    amount: Math.round(r() * 1000000) / 100,
    currency: pick(CURRENCY),
    status: pick(STATUS),
    items,
    createdAt: new Date(
      BASE_TIME + Math.floor(r() * 365 * 86400000),
    ).toISOString(),
    tag: pick(WORDS),
  };
  // pad short docs with a note so every doc is about 200 bytes of JSON
  const len = JSON.stringify(doc).length;
  if (len < 188) doc.note = WORDS[i % WORDS.length].padEnd(200 - len - 10, ".");
  return doc;
}

/** Docs [from, to) as an array. */
export function makeDocs(seed, to, from = 0) {
  const out = new Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = makeDoc(seed, i);
  return out;
}

/** A seeded Fisher–Yates permutation of 0..n-1. */
export function shuffledIndexes(seed, n) {
  const r = rng(mix32(seed ^ 0x51f15eed));
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** The status the query workloads look up; about half of the query docs carry it. */
export const QUERY_STATUS = "open";
const OTHER_STATUS = STATUS.filter((s) => s !== QUERY_STATUS);

/**
 * Doc i of the query workloads only: makeDoc(seed, i) with its `status` redrawn so that
 * about half the docs have QUERY_STATUS ("open") and the rest one of the other four.
 * (makeDoc's uniform 5 statuses give only ~20% per value.) Other workloads keep makeDoc.
 */
export function makeQueryDoc(seed, i) {
  const doc = makeDoc(seed, i);
  const h = mix32(mix32(seed ^ 0x0b5e55ed) ^ mix32(i + 7));
  doc.status = h & 1 ? QUERY_STATUS : OTHER_STATUS[(h >>> 1) % 4];
  return doc;
}

/** Query docs [from, to) as an array. */
export function makeQueryDocs(seed, to, from = 0) {
  const out = new Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = makeQueryDoc(seed, i);
  return out;
}
