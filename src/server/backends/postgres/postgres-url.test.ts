import { describe, expect, it } from "vitest";
import { InvalidUrlError } from "../../../util/errors.js";
import { parsePostgresUrl, redactStorageUrl } from "./postgres-url.js";

describe("parsePostgresUrl", () => {
  it("reads the connection and defaults to bytes in postgres, schema kiln", () => {
    const config = parsePostgresUrl("postgres://127.0.0.1/test", {
      user: "me",
    });
    expect(config).toEqual({
      connection: {
        host: "127.0.0.1",
        port: 5432,
        database: "test",
        user: "me",
        password: undefined,
        ssl: "disable",
        applicationName: "kiln",
        poolSize: 10,
        connectTimeoutSeconds: 10,
      },
      schema: "kiln",
      blobs: { kind: "postgres" },
    });
  });

  it("reads a bucket with its endpoint, region and credentials", () => {
    const config = parsePostgresUrl(
      "postgresql://u:p%40ss@db.internal:6543/kiln?schema=tenant_1&blobs=s3://my-bucket/a/b/&s3-endpoint=http://127.0.0.1:9000/&s3-region=eu-west-1&s3-access-key=AK&s3-secret-key=SK&pool-size=4&connect-timeout=2&sslmode=require&application_name=edge",
    );
    expect(config.connection).toMatchObject({
      host: "db.internal",
      port: 6543,
      user: "u",
      password: "p@ss",
      ssl: "require",
      applicationName: "edge",
      poolSize: 4,
      connectTimeoutSeconds: 2,
    });
    expect(config.schema).toBe("tenant_1");
    expect(config.blobs).toEqual({
      kind: "s3",
      location: {
        bucket: "my-bucket",
        prefix: "a/b",
        endpoint: "http://127.0.0.1:9000",
        region: "eu-west-1",
        credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
      },
    });
  });

  it("takes bucket credentials and region from the caller when the URL has none", () => {
    const config = parsePostgresUrl("postgres://u@h/d?blobs=s3://b", {
      s3Credentials: { accessKeyId: "env", secretAccessKey: "envs" },
      s3Region: "ap-south-1",
    });
    expect(config.blobs).toEqual({
      kind: "s3",
      location: {
        bucket: "b",
        prefix: "",
        endpoint: "https://s3.ap-south-1.amazonaws.com",
        region: "ap-south-1",
        credentials: { accessKeyId: "env", secretAccessKey: "envs" },
      },
    });
  });

  it.each([
    ["postgres://u@h/d?fsync=1", /unknown parameter "fsync"/],
    ["postgres://u@h/d?schema=a&schema=b", /given twice/],
    ["postgres://u@h/", /name one database/],
    ["postgres://h/d", /name a user/],
    ["mysql://u@h/d", /not a postgres/],
    ["postgres://u@h/d?schema=Robert'); DROP", /schema must be/],
    ["postgres://u@h/d?blobs=file:///x", /blobs must be/],
    ["postgres://u@h/d?s3-endpoint=http://x", /without blobs=s3/],
    ["postgres://u@h/d?blobs=s3://b", /no bucket credentials/],
    ["postgres://u@h/d?blobs=s3://b&s3-access-key=a", /both s3-access-key/],
    ["postgres://u@h/d?pool-size=0", /pool-size must be/],
    ["postgres://u@h/d?sslmode=maybe", /sslmode must be/],
  ])("refuses %s", (url, message) => {
    expect(() => parsePostgresUrl(url)).toThrow(InvalidUrlError);
    expect(() => parsePostgresUrl(url)).toThrow(message);
  });

  it("never puts a password or bucket secret in an error message", () => {
    const url =
      "postgres://u:hunter2@h/d?blobs=s3://b&s3-access-key=a&s3-secret-key=topsecret&bogus=1";
    expect(() => parsePostgresUrl(url)).toThrow(InvalidUrlError);
    try {
      parsePostgresUrl(url);
    } catch (error) {
      expect((error as Error).message).not.toMatch(/hunter2|topsecret/);
    }
    expect(redactStorageUrl(url)).not.toMatch(/hunter2|topsecret/);
  });
});
