// Raw DEFLATE on node:zlib (see compression.ts).
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { Compression } from "./compression.js";

export type { Compression };

export const nodeCompression: Compression = {
  deflate: (bytes) => new Uint8Array(deflateRawSync(bytes, { level: 6 })),
  inflate: (bytes) => {
    const out = inflateRawSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  },
};
