import { webcrypto } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createNodeSigning } from "./node-signing.js";
import { decodeWriter, encodeWriter } from "./signing.js";
import type { SigningProvider } from "./signing.js";
import { createWebSigning } from "./web-signing.js";

const fromHex = (hex: string) => new Uint8Array(Buffer.from(hex, "hex"));

// RFC 8032, section 7.1, TEST 2 (a one-byte message).
const SEED = fromHex(
  "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
);
const PUBLIC = fromHex(
  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
);
const MESSAGE = fromHex("72");
const SIGNATURE = fromHex(
  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" +
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
);

const providers: [string, () => SigningProvider][] = [
  ["node:crypto", createNodeSigning],
  ["WebCrypto", () => createWebSigning(webcrypto.subtle as SubtleCrypto)],
];

describe.each(providers)("Ed25519 over %s", (_name, create) => {
  it("derives the RFC 8032 public key and signature", async () => {
    const signing = create();
    const signer = await signing.importSigner(SEED);
    expect(signer.publicKey).toEqual(PUBLIC);
    expect(await signer.sign(MESSAGE)).toEqual(SIGNATURE);
    expect(await signing.verify(PUBLIC, MESSAGE, SIGNATURE)).toBe(true);
  });

  it("refuses a flipped bit of the message, the signature or the key", async () => {
    const signing = create();
    const flip = (b: Uint8Array, i: number) => {
      const c = b.slice();
      c[i]! ^= 1;
      return c;
    };
    expect(await signing.verify(PUBLIC, flip(MESSAGE, 0), SIGNATURE)).toBe(
      false,
    );
    for (const i of [0, 31, 32, 63])
      expect(await signing.verify(PUBLIC, MESSAGE, flip(SIGNATURE, i))).toBe(
        false,
      );
    expect(await signing.verify(flip(PUBLIC, 3), MESSAGE, SIGNATURE)).toBe(
      false,
    );
    // Wrong sizes and a key that is not a curve point are refusals, not exceptions.
    expect(await signing.verify(PUBLIC.subarray(1), MESSAGE, SIGNATURE)).toBe(
      false,
    );
    expect(await signing.verify(PUBLIC, MESSAGE, SIGNATURE.subarray(1))).toBe(
      false,
    );
    expect(
      await signing.verify(new Uint8Array(32).fill(0xff), MESSAGE, SIGNATURE),
    ).toBe(false);
  });

  it("refuses a seed that is not 32 bytes", async () => {
    await expect(
      create().importSigner(new Uint8Array(31)),
    ).rejects.toMatchObject({ code: "invalid-argument" });
  });
});

describe("the two providers agree", () => {
  it("each verifies the other's signatures of random messages", async () => {
    const node = createNodeSigning();
    const web = createWebSigning(webcrypto.subtle as SubtleCrypto);
    for (let i = 0; i < 20; i++) {
      const seed = webcrypto.getRandomValues(new Uint8Array(32));
      const message = webcrypto.getRandomValues(new Uint8Array(i * 7));
      const a = await node.importSigner(seed);
      const b = await web.importSigner(seed);
      expect(b.publicKey).toEqual(a.publicKey);
      const sa = await a.sign(message);
      // Ed25519 is deterministic: the same key and message give the same signature.
      expect(await b.sign(message)).toEqual(sa);
      expect(await web.verify(a.publicKey, message, sa)).toBe(true);
      expect(await node.verify(b.publicKey, message, sa)).toBe(true);
    }
  });
});

describe("writer text", () => {
  it("round-trips a public key and refuses anything else", () => {
    expect(decodeWriter(encodeWriter(PUBLIC))).toEqual(PUBLIC);
    expect(encodeWriter(PUBLIC)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    for (const bad of ["", "abc", encodeWriter(PUBLIC) + "A", "+".repeat(43)])
      expect(() => decodeWriter(bad)).toThrow(/writer/);
  });
});
