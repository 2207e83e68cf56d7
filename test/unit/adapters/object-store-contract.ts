// The ObjectStore contract (lib/ports.ts), as one suite every adapter runs: S3 (over HTTP, against a
// server that answers like S3) and the local folder must behave the same under the Validate stage.

import { createHash } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import type { ObjectStore } from "../../../lib/ports";

const text = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes).toString("utf8") : undefined);

export function describeObjectStoreContract(name: string, makeStore: () => Promise<ObjectStore>): void {
  describe(`${name} (ObjectStore contract)`, () => {
    let store: ObjectStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    it("returns an object's bytes exactly as they were put", async () => {
      const every = Uint8Array.from({ length: 256 }, (_, i) => i);
      await store.put("models/llama/v1/model.safetensors", every);
      await store.put("models/llama/v1/config.json", '{"vocab_size": 32000, "name": "é"}');
      expect(await store.get("models/llama/v1/model.safetensors")).toEqual(every);
      expect(text(await store.get("models/llama/v1/config.json"))).toBe('{"vocab_size": 32000, "name": "é"}');
    });

    it("has nothing for a key that was never put", async () => {
      expect(await store.get("models/llama/v1/missing.json")).toBeUndefined();
      expect(await store.head("models/llama/v1/missing.json")).toBeUndefined();
    });

    it("replaces an object that is put again, and its ETag changes", async () => {
      await store.put("models/llama/v1/config.json", "first");
      const before = await store.head("models/llama/v1/config.json");
      await store.put("models/llama/v1/config.json", "second, longer");
      const after = await store.head("models/llama/v1/config.json");
      expect(text(await store.get("models/llama/v1/config.json"))).toBe("second, longer");
      expect(after?.size).toBe(14);
      expect(after?.etag).toBeTruthy();
      expect(after?.etag).not.toBe(before?.etag);
      expect(after?.etag).not.toMatch(/"/);
    });

    it("reads an object by the ETag it had, and finds nothing once it was replaced", async () => {
      await store.put("models/llama/v1/modelship.yaml", "name: llama");
      const uploaded = await store.head("models/llama/v1/modelship.yaml");
      const etag = uploaded?.etag ?? "";
      expect(text(await store.get("models/llama/v1/modelship.yaml", { etag }))).toBe("name: llama");
      expect(await store.head("models/llama/v1/modelship.yaml", { etag })).toMatchObject({ size: 11 });
      await store.put("models/llama/v1/modelship.yaml", "name: swapped in");
      expect(await store.get("models/llama/v1/modelship.yaml", { etag })).toBeUndefined();
      expect(await store.head("models/llama/v1/modelship.yaml", { etag })).toBeUndefined();
    });

    it("lists every object under a prefix, sorted by key, with sizes", async () => {
      const keys = [
        "tokenizer.json",
        "model-00002-of-00002.safetensors",
        "config.json",
        "model-00001-of-00002.safetensors",
      ];
      for (const [i, key] of keys.entries()) await store.put(`models/llama/v1/${key}`, "x".repeat(i + 1));
      await store.put("models/llama/v1/sub/nested.json", "{}");
      await store.put("models/llama/v2/config.json", "{}");
      const listed = await store.list("models/llama/v1/");
      expect(listed.map((o) => [o.key, o.size])).toEqual([
        ["models/llama/v1/config.json", 3],
        ["models/llama/v1/model-00001-of-00002.safetensors", 4],
        ["models/llama/v1/model-00002-of-00002.safetensors", 2],
        ["models/llama/v1/sub/nested.json", 2],
        ["models/llama/v1/tokenizer.json", 1],
      ]);
      expect(listed.every((o) => o.etag && o.lastModified)).toBe(true);
    });

    it("lists by string prefix, as S3 does, not by folder", async () => {
      await store.put("models/llama/v1/config.json", "{}");
      await store.put("models/llama-2/v1/config.json", "{}");
      await store.put("models/mistral/v1/config.json", "{}");
      expect((await store.list("models/llama")).map((o) => o.key)).toEqual([
        "models/llama-2/v1/config.json",
        "models/llama/v1/config.json",
      ]);
      expect(await store.list("models/qwen/")).toEqual([]);
    });

    it("heads an object with its size and a full-object SHA-256 of what it wrote", async () => {
      await store.put("models/llama/v1/tokenizer.json", "tokens");
      expect(await store.head("models/llama/v1/tokenizer.json")).toMatchObject({
        key: "models/llama/v1/tokenizer.json",
        size: 6,
        checksumSha256: createHash("sha256").update("tokens").digest("base64"),
        checksumType: "FULL_OBJECT",
      });
    });

    it("reads exactly the bytes of a range", async () => {
      await store.put("models/llama/v1/model.safetensors", "0123456789");
      expect(text(await store.getRange("models/llama/v1/model.safetensors", 2, 5))).toBe("23456");
      expect(text(await store.getRange("models/llama/v1/model.safetensors", 0, 8))).toBe("01234567");
    });

    it("reads fewer bytes when a range runs past the end, and none when it starts there", async () => {
      await store.put("models/llama/v1/model.safetensors", "0123456789");
      expect(text(await store.getRange("models/llama/v1/model.safetensors", 7, 100))).toBe("789");
      expect(await store.getRange("models/llama/v1/model.safetensors", 10, 8)).toHaveLength(0);
      expect(await store.getRange("models/llama/v1/model.safetensors", 50, 8)).toHaveLength(0);
    });

    it("throws, naming the key, on a range of an object that does not exist", async () => {
      await expect(store.getRange("models/llama/v1/gone.safetensors", 0, 8)).rejects.toThrow(
        "models/llama/v1/gone.safetensors",
      );
    });

    it("keeps keys with spaces and non-ASCII characters", async () => {
      const key = "models/llama/v1/read me – ünïcode.md";
      await store.put(key, "hello");
      expect((await store.list("models/llama/v1/")).map((o) => o.key)).toEqual([key]);
      expect((await store.head(key))?.size).toBe(5);
      expect(text(await store.getRange(key, 1, 3))).toBe("ell");
    });
  });
}
