// Raw DEFLATE for checkpoint sections (docs compress 2-3x; CIDs do not, so they stay out).
// One implementation per platform: node-compression.ts, web-compression.ts.
export interface Compression {
  deflate(bytes: Uint8Array): Uint8Array;
  inflate(bytes: Uint8Array): Uint8Array;
}
