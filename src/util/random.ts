// A small seeded generator for randomized tests and benchmarks: a failure reproduces from
// the printed seed (mulberry32).
export interface Random {
  readonly seed: number;
  next(): number;
  int(maxExclusive: number): number;
  pick<T>(items: readonly T[]): T;
}

export function createRandom(seed: number): Random {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
  return {
    seed,
    next,
    int: (n) => Math.floor(next() * n),
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

/** A seed from KILN_SEED when a test is re-run to reproduce, else a fresh one. */
export function testSeed(fromEnv: string | undefined): number {
  const n = fromEnv === undefined ? NaN : Number(fromEnv);
  return Number.isInteger(n) ? n : Math.floor(Math.random() * 0x7fffffff);
}
