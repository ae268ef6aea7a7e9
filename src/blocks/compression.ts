// Raw DEFLATE for checkpoint sections (docs compress 2-3x; CIDs do not, so they stay out).
// One implementation per platform: node-compression.ts, web-compression.ts.
/** Raw DEFLATE, synchronous: checkpoints are compressed with it (node:zlib on Node, fflate in browsers). */
export interface Compression {
  /** Compresses bytes (raw DEFLATE, no header). */
  deflate(bytes: Uint8Array): Uint8Array;
  /** Decompresses what deflate made. */
  inflate(bytes: Uint8Array): Uint8Array;
}
