import { createHash } from "node:crypto";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { S3ObjectStore } from "../../../lib/aws/s3-object-store";
import { describeObjectStoreContract } from "./object-store-contract";
import { S3TestServer } from "./s3-test-server";

const BUCKET = "modelship-test-bucket";
let server: S3TestServer;
let endpoint: string;

// The adapter is built with no client: it must find the server through the SDK's standard configuration.
beforeAll(async () => {
  server = new S3TestServer(BUCKET);
  endpoint = await server.start();
  vi.stubEnv("AWS_ENDPOINT_URL_S3", endpoint);
  vi.stubEnv("AWS_REGION", "eu-west-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDMODELSHIPTEST");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test-secret");
  vi.stubEnv("AWS_MAX_ATTEMPTS", "1");
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await server.stop();
});

function resetServer(): void {
  server.objects.clear();
  server.noncurrent.clear();
  server.requests.length = 0;
  server.failures.length = 0;
  server.ignoreRange = false;
}

describeObjectStoreContract("S3ObjectStore", async () => {
  resetServer();
  return new S3ObjectStore({ bucket: BUCKET });
});

describe("S3ObjectStore", () => {
  let store: S3ObjectStore;
  beforeEach(() => {
    resetServer();
    store = new S3ObjectStore({ bucket: BUCKET });
  });

  it("names its bucket by name, as upload events do", () => {
    expect(store.bucket).toBe(BUCKET);
  });

  it("names its bucket as its location", () => {
    expect(store.location).toBe(`s3://${BUCKET}`);
  });

  it("talks to AWS_ENDPOINT_URL_S3 with the credentials from the environment", async () => {
    await store.put("models/llama/v1/config.json", "{}");
    const [request] = server.requests;
    expect(request?.path).toBe(`/${BUCKET}/models/llama/v1/config.json`);
    expect(request?.headers.authorization).toContain("Credential=AKIDMODELSHIPTEST/");
    expect(request?.headers.authorization).toContain("/eu-west-1/s3/aws4_request");
  });

  it("follows every continuation token of a listing", async () => {
    for (let i = 0; i < 5; i++) await store.put(`models/llama/v1/file-${i}.json`, "{}");
    server.requests.length = 0;
    expect(await store.list("models/llama/v1/")).toHaveLength(5);
    expect(server.requests.map((r) => r.query.get("continuation-token") !== null)).toEqual([
      false,
      true,
      true,
    ]);
  });

  it("asks for checksums on HEAD and reports none when S3 has no SHA-256 for the object", async () => {
    server.objects.set("models/llama/v1/uploaded.bin", {
      body: Buffer.from("abc"),
      etag: "900150983cd24fb0d6963f7d28e17f72",
      lastModified: new Date("2025-01-01T00:00:00Z"),
    });
    expect(await store.head("models/llama/v1/uploaded.bin")).toEqual({
      key: "models/llama/v1/uploaded.bin",
      size: 3,
      etag: "900150983cd24fb0d6963f7d28e17f72",
      lastModified: "2025-01-01T00:00:00.000Z",
    });
    expect(server.requests[0]?.headers["x-amz-checksum-mode"]).toBe("ENABLED");
  });

  it("reports the version id of an object in a versioned bucket", async () => {
    server.objects.set("models/llama/v1/modelship.yaml", {
      body: Buffer.from("name: llama"),
      etag: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
      lastModified: new Date("2025-01-01T00:00:00Z"),
      sha256: createHash("sha256").update("name: llama").digest("base64"),
      versionId: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
    });
    expect(await store.head("models/llama/v1/modelship.yaml")).toMatchObject({
      versionId: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
      checksumType: "FULL_OBJECT",
    });
  });

  describe("reading one version of an object", () => {
    const key = "models/llama/v1/modelship.yaml";
    const uploaded = { body: Buffer.from("name: llama"), etag: "0f1e2d3c4b5a69788796a5b4c3d2e1f0" };
    const replaced = { body: Buffer.from("name: swapped"), etag: "ffeeddccbbaa99887766554433221100" };
    beforeEach(() => {
      server.noncurrent.set(`${key}\0v-uploaded`, {
        ...uploaded,
        lastModified: new Date("2025-01-01T00:00:00Z"),
        versionId: "v-uploaded",
      });
      server.objects.set(key, {
        ...replaced,
        lastModified: new Date("2025-01-01T00:01:00Z"),
        versionId: "v-replaced",
      });
    });

    it("reads the version id it is given, not the newest object, with the VersionId parameter", async () => {
      const bytes = await store.get(key, { versionId: "v-uploaded" });
      expect(new TextDecoder().decode(bytes)).toBe("name: llama");
      expect(server.requests[0]?.query.get("versionId")).toBe("v-uploaded");
      expect(await store.head(key, { versionId: "v-uploaded" })).toMatchObject({
        size: uploaded.body.length,
      });
    });

    it("finds nothing for a version id the bucket does not have", async () => {
      expect(await store.get(key, { versionId: "v-deleted" })).toBeUndefined();
      expect(await store.head(key, { versionId: "v-deleted" })).toBeUndefined();
    });

    it("reads by ETag with If-Match, and finds nothing once the object was replaced", async () => {
      expect(await store.get(key, { etag: uploaded.etag })).toBeUndefined();
      expect(await store.head(key, { etag: uploaded.etag })).toBeUndefined();
      expect(server.requests[0]?.headers["if-match"]).toBe(`"${uploaded.etag}"`);
      const bytes = await store.get(key, { etag: `"${replaced.etag}"` });
      expect(new TextDecoder().decode(bytes)).toBe("name: swapped");
    });
  });

  it("puts objects with a SHA-256 checksum, so a later head can be compared with a manifest", async () => {
    await store.put("models/llama/v1/config.json", "{}", { contentType: "application/json" });
    const [request] = server.requests;
    expect(request?.headers["x-amz-checksum-sha256"]).toBe(
      createHash("sha256").update("{}").digest("base64"),
    );
    expect(request?.headers["content-type"]).toBe("application/json");
  });

  it("reads a range with one ranged GET", async () => {
    await store.put("models/llama/v1/model.safetensors", "0123456789");
    server.requests.length = 0;
    await store.getRange("models/llama/v1/model.safetensors", 3, 4);
    expect(server.requests.map((r) => [r.method, r.headers.range])).toEqual([["GET", "bytes=3-6"]]);
  });

  it("never returns more than the range asked for, whatever the server sends", async () => {
    await store.put("models/llama/v1/model.safetensors", "0123456789");
    server.ignoreRange = true;
    expect(Buffer.from(await store.getRange("models/llama/v1/model.safetensors", 0, 4)).toString()).toBe(
      "0123",
    );
    await expect(store.getRange("models/llama/v1/model.safetensors", 4, 4)).rejects.toThrow(
      "the server ignored the Range header",
    );
  });

  it("turns S3 throttling and server errors into Transient, so the state machine retries", async () => {
    server.failures.push({ status: 503, code: "SlowDown" }, { status: 500, code: "InternalError" });
    await expect(store.get("models/llama/v1/config.json")).rejects.toMatchObject({
      name: "Transient",
      message: expect.stringContaining(
        `GetObject s3://${BUCKET}/models/llama/v1/config.json failed with SlowDown`,
      ),
    });
    await expect(store.list("models/")).rejects.toMatchObject({ name: "Transient" });
  });

  it("lets a permission error through as it is", async () => {
    server.failures.push({ status: 403, code: "AccessDenied" });
    await expect(store.put("models/llama/v1/config.json", "{}")).rejects.toMatchObject({
      name: "AccessDenied",
    });
  });

  it("uses path-style addressing when MODELSHIP_S3_FORCE_PATH_STYLE=true (for MinIO and LocalStack)", async () => {
    // A host name, not an IP: the SDK would otherwise put the bucket in the host (virtual-hosted style).
    vi.stubEnv("AWS_ENDPOINT_URL_S3", endpoint.replace("127.0.0.1", "localhost"));
    vi.stubEnv("MODELSHIP_S3_FORCE_PATH_STYLE", "true");
    try {
      await new S3ObjectStore({ bucket: BUCKET }).put("models/llama/v1/config.json", "{}");
    } finally {
      vi.stubEnv("AWS_ENDPOINT_URL_S3", endpoint);
      vi.stubEnv("MODELSHIP_S3_FORCE_PATH_STYLE", "");
    }
    expect(server.requests[0]?.path).toBe(`/${BUCKET}/models/llama/v1/config.json`);
    expect(server.requests[0]?.headers.host).toMatch(/^localhost:\d+$/);
  });

  it("uses the client it is given", async () => {
    const client = new S3Client({ endpoint, region: "us-west-2", forcePathStyle: true });
    await new S3ObjectStore({ bucket: BUCKET, client }).put("models/llama/v1/config.json", "{}");
    expect(server.requests[0]?.headers.authorization).toContain("/us-west-2/s3/aws4_request");
  });
});
