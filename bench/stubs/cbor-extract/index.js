// cbor-x requires this module inside try/catch and falls back to its JavaScript decoder.
throw new Error(
  "cbor-extract is stubbed out in bench/ (no prebuilt binaries here)",
);
