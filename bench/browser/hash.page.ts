// SHA-256 in Chromium: @noble/hashes (synchronous, JavaScript) against crypto.subtle.digest
// (native, asynchronous), one at a time (as a hot path that awaits each) and 100 in flight.
import { sha256 } from "@noble/hashes/sha2.js";

async function measure(size: number, budgetMs = 400) {
  const data = new Uint8Array(size).map((_, i) => (i * 131 + 7) & 255);
  const rate = async (fn: () => unknown | Promise<unknown>, per = 1) => {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < budgetMs) {
      await fn();
      n += per;
    }
    return Math.round((n * 1000) / (performance.now() - start));
  };
  const noble = await rate(() => sha256(data));
  const subtle = await rate(() => crypto.subtle.digest("SHA-256", data));
  const subtle100 = await rate(
    () =>
      Promise.all(
        Array.from({ length: 100 }, () =>
          crypto.subtle.digest("SHA-256", data),
        ),
      ),
    100,
  );
  return { size, noble, subtle, subtle100 };
}

Object.assign(globalThis, {
  kiln: {
    async hashes(sizes: number[]) {
      const out = [];
      for (const size of sizes) out.push(await measure(size));
      return out;
    },
  },
});
