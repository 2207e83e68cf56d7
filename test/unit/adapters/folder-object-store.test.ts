import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, open, readdir, rm, symlink, writeFile } from "node:fs/promises";
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

describe("FolderObjectStore and what a folder can hold that a bucket cannot", () => {
  let outside: string;
  let root: string;
  let store: FolderObjectStore;
  const SECRET = "root:x:0:0:root:/root:/bin/bash\n";

  beforeEach(async () => {
    outside = await freshFolder();
    await writeFile(join(outside, "passwd"), SECRET);
    root = await freshFolder();
    await mkdir(join(root, "m"), { recursive: true });
    store = new FolderObjectStore(root);
  });

  /** Every byte the store hands out for `key`, by both reads, as text; or the error's message. */
  async function readEither(key: string): Promise<string[]> {
    const outcomes = await Promise.allSettled([store.get(key), store.getRange(key, 0, 1024)]);
    return outcomes.map((o) =>
      o.status === "fulfilled" ? Buffer.from(o.value ?? new Uint8Array()).toString() : String(o.reason),
    );
  }

  it("reads a link to a file inside the folder like the file it names", async () => {
    await writeFile(join(root, "m/real.gguf"), "GGUF");
    await symlink("real.gguf", join(root, "m/model.gguf"));
    expect(await store.list("m/")).toEqual([
      expect.objectContaining({ key: "m/model.gguf", size: 4 }),
      expect.objectContaining({ key: "m/real.gguf", size: 4 }),
    ]);
    expect(await readEither("m/model.gguf")).toEqual(["GGUF", "GGUF"]);
  });

  it("lists a link out of the folder as unreadable, naming its target, and never reads through it", async () => {
    await symlink(join(outside, "passwd"), join(root, "m/config.json"));
    const listed = await store.list("m/");
    expect(listed).toEqual([
      {
        key: "m/config.json",
        size: 0,
        unreadable: { reason: "link-outside", target: join(outside, "passwd") },
      },
    ]);
    expect(await store.head("m/config.json")).toEqual(listed[0]);
    const reads = await readEither("m/config.json");
    for (const read of reads) {
      expect(read).toContain("UnreadableObject: m/config.json: A symbolic link to");
      expect(read).not.toContain("root:x");
    }
  });

  it("refuses a file reached through a linked folder that leads out, as it refuses the link", async () => {
    await symlink(outside, join(root, "m/v1"));
    expect(await store.head("m/v1/passwd")).toEqual({
      key: "m/v1/passwd",
      size: 0,
      unreadable: { reason: "link-outside" },
    });
    expect((await readEither("m/v1/passwd")).every((r) => r.includes("real path is outside"))).toBe(true);
    await expect(store.list("m/v1/")).rejects.toThrow("m/v1/: A symbolic link whose real path is outside");
    expect((await store.list("m/")).map((o) => [o.key, o.unreadable?.reason])).toEqual([
      ["m/v1", "link-outside"],
    ]);
  });

  it("lists a broken link and a loop of links as broken, and a link to a folder without its files", async () => {
    await symlink("missing.json", join(root, "m/dangling.json"));
    await symlink("loop-b", join(root, "m/loop-a"));
    await symlink("loop-a", join(root, "m/loop-b"));
    await mkdir(join(root, "shards"));
    await writeFile(join(root, "shards/a.safetensors"), "x");
    await symlink("../shards", join(root, "m/shards"));
    expect((await store.list("m/")).map((o) => [o.key, o.unreadable?.reason, o.size])).toEqual([
      ["m/dangling.json", "link-broken", 0],
      ["m/loop-a", "link-broken", 0],
      ["m/loop-b", "link-broken", 0],
      ["m/shards", "link-to-folder", 0],
    ]);
    expect(await readEither("m/dangling.json")).toEqual([
      expect.stringContaining("that leads to no file"),
      expect.stringContaining("that leads to no file"),
    ]);
    expect(await readEither("m/shards")).toEqual([
      expect.stringContaining("to a folder"),
      expect.stringContaining("to a folder"),
    ]);
  });

  it("lists a FIFO as not a file and refuses to read it, rather than waiting forever for a writer", async () => {
    execFileSync("mkfifo", [join(root, "m/config.json")]);
    expect(await store.list("m/")).toEqual([
      { key: "m/config.json", size: 0, unreadable: { reason: "not-a-file" } },
    ]);
    expect(await readEither("m/config.json")).toEqual([
      expect.stringContaining("Not a regular file"),
      expect.stringContaining("Not a regular file"),
    ]);
  });

  it("writes nothing through a linked folder that leads out", async () => {
    await symlink(outside, join(root, "reports"));
    await expect(store.put("reports/m/v1/validation.json", "{}")).rejects.toThrow("real path is outside");
    expect(await readdir(outside)).toEqual(["passwd"]);
  });

  it("works in a folder that is itself reached through a link", async () => {
    const linkedRoot = join(await freshFolder(), "bucket");
    await symlink(root, linkedRoot);
    const linked = new FolderObjectStore(linkedRoot);
    await linked.put("m/config.json", "{}");
    expect((await linked.list("m/")).map((o) => [o.key, o.unreadable])).toEqual([
      ["m/config.json", undefined],
    ]);
    expect(Buffer.from((await linked.get("m/config.json")) ?? []).toString()).toBe("{}");
  });
});
