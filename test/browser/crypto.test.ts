// The browser CryptoProvider (WebCrypto AES-GCM, @noble/hashes SHA-256 and HMAC) is
// byte-identical to the Node one (node:crypto) on random inputs of many sizes.
import { afterAll, describe, expect, it } from "vitest";
import { nodeCrypto } from "../../src/blocks/node-crypto.js";
import { toBase64url } from "../../src/util/bytes.js";
import { callPage, startBrowserSuite } from "./harness.js";

const suite = await startBrowserSuite({
  crypto: "test/browser/pages/crypto.page.ts",
});
const page = await suite.open("crypto");
afterAll(() => suite.close());

const SIZES = [0, 1, 15, 16, 17, 63, 64, 65, 200, 1024, 65_537, 300_000];
const r = (n: number) => toBase64url(nodeCrypto.randomBytes(n));

describe("web crypto in chromium", () => {
  it("hashes, MACs and seals exactly as node:crypto does", async () => {
    const cases = SIZES.map((n) => ({
      key: r(32),
      iv: r(12),
      aad: r(n % 50),
      data: r(n),
    }));
    const fromPage = await callPage<unknown[]>(page, "run", cases);
    const inNode = await Promise.all(
      cases.map(async (c) => {
        const [key, iv, aad, data] = [c.key, c.iv, c.aad, c.data].map(
          (s) => Buffer.from(s, "base64url") as Uint8Array,
        ) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
        return {
          sha256: toBase64url(nodeCrypto.sha256(data)),
          hmac: toBase64url(nodeCrypto.hmacSha256(key, [aad, data])),
          sealed: toBase64url(await nodeCrypto.encrypt(key, iv, data, aad)),
        };
      }),
    );
    expect(fromPage).toEqual(inNode);
  });

  it("opens what Node sealed, and rejects a flipped bit or a wrong aad", async () => {
    const key = nodeCrypto.randomBytes(32);
    const iv = nodeCrypto.randomBytes(12);
    const aad = nodeCrypto.randomBytes(9);
    const data = nodeCrypto.randomBytes(500);
    const sealed = await nodeCrypto.encrypt(key, iv, data, aad);
    const c = {
      key: toBase64url(key),
      iv: toBase64url(iv),
      aad: toBase64url(aad),
      data: toBase64url(sealed),
    };
    expect(await callPage(page, "open", c)).toBe(toBase64url(data));
    const flipped = sealed.slice();
    flipped[17]! ^= 1;
    expect(
      await callPage(page, "open", { ...c, data: toBase64url(flipped) }),
    ).toBe("rejected");
    expect(
      await callPage(page, "open", {
        ...c,
        aad: toBase64url(new Uint8Array(9)),
      }),
    ).toBe("rejected");
  });

  it("draws random bytes past getRandomValues' 64 KiB limit", async () => {
    expect(await callPage(page, "random", 200_000)).toBe(200_000);
  });
});
