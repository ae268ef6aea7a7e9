// Raw DEFLATE for checkpoint sections (docs compress 2-3x; CIDs do not, so they stay out).
import { deflateRawSync, inflateRawSync } from "node:zlib";

export interface Compression {
  deflate(bytes: Uint8Array): Uint8Array;
  inflate(bytes: Uint8Array): Uint8Array;
}

export const nodeCompression: Compression = {
  deflate: (bytes) => new Uint8Array(deflateRawSync(bytes, { level: 6 })),
  inflate: (bytes) => {
    const out = inflateRawSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  },
};
