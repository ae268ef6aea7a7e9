import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hash,
  randomBytes,
} from "node:crypto";
import type { CryptoProvider } from "./crypto.js";
import { allocBytes } from "../util/bytes.js";

const TAG = 16;

function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export const nodeCrypto: CryptoProvider = {
  sha256(bytes) {
    // The one-shot hash skips creating a Hash object: ~35% less per small block.
    return view(hash("sha256", bytes, "buffer"));
  },
  hmacSha256(key, parts) {
    const h = createHmac("sha256", key);
    for (const p of parts) h.update(p);
    return view(h.digest());
  },
  encrypt(key, iv, plaintext, aad) {
    const c = createCipheriv("aes-256-gcm", key, iv);
    c.setAAD(aad);
    const head = c.update(plaintext);
    const tail = c.final();
    const out = allocBytes(head.length + tail.length + TAG);
    out.set(head, 0);
    out.set(tail, head.length);
    out.set(c.getAuthTag(), head.length + tail.length);
    return Promise.resolve(out);
  },
  decrypt(key, iv, ciphertext, aad) {
    try {
      if (ciphertext.length < TAG)
        throw new Error("ciphertext shorter than its tag");
      const d = createDecipheriv("aes-256-gcm", key, iv);
      d.setAAD(aad);
      d.setAuthTag(ciphertext.subarray(ciphertext.length - TAG));
      const head = d.update(ciphertext.subarray(0, ciphertext.length - TAG));
      const tail = d.final();
      if (tail.length === 0) return Promise.resolve(view(head));
      const out = new Uint8Array(head.length + tail.length);
      out.set(head, 0);
      out.set(tail, head.length);
      return Promise.resolve(out);
    } catch (error) {
      return Promise.reject(
        error instanceof Error ? error : new Error(String(error)),
      );
    }
  },
  randomBytes(length) {
    return view(randomBytes(length));
  },
};
