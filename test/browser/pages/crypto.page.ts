// The browser CryptoProvider on inputs the Node side chose, so the two can be compared.
import { createWebCrypto } from "../../../src/blocks/web-crypto.js";
import { fromBase64url, toBase64url } from "../../../src/util/bytes.js";

const web = createWebCrypto();
const b = (s: string) => fromBase64url(s)!;

interface Case {
  key: string;
  iv: string;
  aad: string;
  data: string;
}

Object.assign(globalThis, {
  kiln: {
    async run(cases: Case[]) {
      const out = [];
      for (const c of cases) {
        const sealed = await web.encrypt(
          b(c.key),
          b(c.iv),
          b(c.data),
          b(c.aad),
        );
        out.push({
          sha256: toBase64url(web.sha256(b(c.data))),
          hmac: toBase64url(web.hmacSha256(b(c.key), [b(c.aad), b(c.data)])),
          sealed: toBase64url(sealed),
        });
      }
      return out;
    },
    /** Decrypts; "rejected" when the tag does not verify. */
    async open(c: Case) {
      try {
        return toBase64url(
          await web.decrypt(b(c.key), b(c.iv), b(c.data), b(c.aad)),
        );
      } catch {
        return "rejected";
      }
    },
    random(n: number) {
      return web.randomBytes(n).length;
    },
  },
});
