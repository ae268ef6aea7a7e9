// Raw DEFLATE for browsers, synchronous like node:zlib's (the seam is synchronous; the
// platform's CompressionStream is not). fflate writes standard raw DEFLATE, so checkpoints
// written by either platform read on the other.
import { deflateSync, inflateSync } from "fflate";
import type { Compression } from "./compression.js";

export const webCompression: Compression = {
  deflate: (bytes) => deflateSync(bytes, { level: 6 }),
  inflate: (bytes) => inflateSync(bytes),
};
