import { mkdir, mkdtemp, open, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { FolderObjectStore } from "../../../lib/local/folder-object-store";
import { describeObjectStoreContract } from "./object-store-contract";

const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

async function freshFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), "modelship-bucket-"));
  folders.push(folder);
  return folder;
}

describeObjectStoreContract("FolderObjectStore", async () => new FolderObjectStore(await freshFolder()));

describe("FolderObjectStore", () => {
  let root: string;
  let store: FolderObjectStore;
  beforeEach(async () => {
    root = await freshFolder();
    store = new FolderObjectStore(root);
  });

  it("names its folder as its location and as its bucket", () => {
    expect(store.location).toBe(root);
    expect(store.bucket).toBe(root);
  });

  it("refuses to read a version id, which a folder does not keep, rather than read the file as it is now", async () => {
    await store.put("models/llama/v1/modelship.yaml", "name: llama");
    await expect(store.get("models/llama/v1/modelship.yaml", { versionId: "3HL4kq" })).rejects.toThrow(
      "a folder keeps no object versions, so version 3HL4kq cannot be read",
    );
    await expect(store.head("models/llama/v1/modelship.yaml", { versionId: "3HL4kq" })).rejects.toThrow(
      "keeps no object versions",
    );
  });

  it.each([
    "../outside.txt",
    "/etc/passwd",
    "models/../../outside.txt",
    "models//config.json",
    "./config.json",
  ])("refuses the key %s, which is not a path inside the folder", async (key) => {
    await expect(store.put(key, "x")).rejects.toThrow(`Key "${key}" is not a path inside ${root}`);
    await expect(store.get(key)).rejects.toThrow("is not a path inside");
    await expect(store.head(key)).rejects.toThrow("is not a path inside");
    await expect(store.getRange(key, 0, 1)).rejects.toThrow("is not a path inside");
  });

  it("refuses a listing prefix that climbs out of the folder", async () => {
    await expect(store.list("../")).rejects.toThrow('Key "../" is not a path inside');
  });

  it("writes atomically, creating folders, and leaves no temp file behind", async () => {
    await store.put("models/llama/v1/deep/er/config.json", "{}");
    expect(await readdir(join(root, "models/llama/v1/deep/er"))).toEqual(["config.json"]);
  });

  it("does not list the temp file of a write still in flight, nor its own metadata", async () => {
    await store.put("models/llama/v1/config.json", "{}");
    await writeFile(join(root, "models/llama/v1/.model.safetensors.modelship-tmp-1234"), "partial");
    expect((await store.list("")).map((o) => o.key)).toEqual(["models/llama/v1/config.json"]);
  });

  it("reports no SHA-256 for a file copied in by other means, rather than hashing it", async () => {
    await mkdir(join(root, "models/llama/v1"), { recursive: true });
    await writeFile(join(root, "models/llama/v1/config.json"), "{}");
    const head = await store.head("models/llama/v1/config.json");
    expect(head).toMatchObject({ key: "models/llama/v1/config.json", size: 2 });
    expect(head?.checksumSha256).toBeUndefined();
  });

  it("stops reporting the SHA-256 of an object once the file is changed behind its back", async () => {
    await store.put("models/llama/v1/config.json", "{}");
    await writeFile(join(root, "models/llama/v1/config.json"), '{"changed": true}');
    expect((await store.head("models/llama/v1/config.json"))?.checksumSha256).toBeUndefined();
  });

  it("reads a range at the end of a 3 GiB file without reading the file", async () => {
    await mkdir(join(root, "models/big/v1"), { recursive: true });
    const path = join(root, "models/big/v1/model.safetensors");
    const size = 3 * 1024 ** 3;
    // A sparse file: its holes take no disk, and reading it whole would exceed Node's buffer limit.
    const handle = await open(path, "w");
    await handle.truncate(size);
    await handle.write(Buffer.from("tail"), 0, 4, size - 4);
    await handle.close();
    expect(
      Buffer.from(await store.getRange("models/big/v1/model.safetensors", size - 4, 1024)).toString(),
    ).toBe("tail");
    expect((await store.head("models/big/v1/model.safetensors"))?.size).toBe(size);
  });

  it("has no object where the key names a folder", async () => {
    await store.put("models/llama/v1/config.json", "{}");
    expect(await store.get("models/llama/v1")).toBeUndefined();
    expect(await store.head("models/llama/v1")).toBeUndefined();
    await expect(store.getRange("models/llama/v1", 0, 4)).rejects.toThrow("is a folder");
  });
});
