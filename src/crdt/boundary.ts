// Whether an entry ends a tree node: a pure function of the key and the level, so the
// tree's shape depends on its set of keys only. About one entry in FANOUT is a boundary.
//
// hash = fmix32(FNV-1a-32 over the key's UTF-16 code units, seeded with the level).
export const FANOUT = 8;

const THRESHOLD = Math.floor(0x1_0000_0000 / FANOUT);

export function isBoundary(key: string, level: number): boolean {
  return boundaryHash(key, level) < THRESHOLD;
}

export function boundaryHash(key: string, level: number): number {
  let h = (0x811c9dc5 ^ Math.imul(level + 1, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Murmur3's finaliser: FNV alone mixes the last characters poorly.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
