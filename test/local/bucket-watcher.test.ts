// The local bucket's upload trigger on real folders: which manifests the BucketWatcher hands on to start a
// rollout, and when. Scans are driven one at a time with scanNow() (the poll interval is an hour), so "two
// scans in a row" is counted, not timed.

import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BucketWatcher } from "../../lib/local/bucket-watcher";

const AN_HOUR_MS = 3_600_000;

let bucket: string;
let handedOn: string[];
let logged: string[];
let watcher: BucketWatcher | undefined;

beforeEach(async () => {
  bucket = await mkdtemp(join(tmpdir(), "modelship-bucket-watcher-"));
  handedOn = [];
  logged = [];
});

afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  await rm(bucket, { recursive: true, force: true });
});

/** Starts watching the bucket; by default each manifest handed on is noted in `handedOn`. */
async function watch(onManifest = async (key: string) => void handedOn.push(key)): Promise<BucketWatcher> {
  watcher = new BucketWatcher({
    bucket,
    onManifest,
    log: (message) => void logged.push(message),
    pollMs: AN_HOUR_MS,
  });
  await watcher.start();
  return watcher;
}

/** Writes a file into the bucket at `key`, creating its folders. */
async function put(key: string, text = "name: tiny\n"): Promise<void> {
  const path = join(bucket, ...key.split("/"));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

async function scan(times: number): Promise<void> {
  for (let i = 0; i < times; i++) await watcher?.scanNow();
}

describe("BucketWatcher", () => {
  it("does not hand on the manifests already in the bucket when watching starts: their rollouts ran before", async () => {
    await put("models/tiny/v1/model.gguf", "weights");
    await put("models/tiny/v1/modelship.yaml");
    await watch();

    await scan(3);

    expect(handedOn).toEqual([]);
  });

  it("hands a new manifest on once, and only when two scans in a row find it unchanged", async () => {
    await watch();
    await put("models/tiny/v2/model.gguf", "weights");
    await put("models/tiny/v2/modelship.yaml");

    await scan(1);
    expect(handedOn).toEqual([]);
    await scan(1);
    expect(handedOn).toEqual(["models/tiny/v2/modelship.yaml"]);
    await scan(3);
    expect(handedOn).toEqual(["models/tiny/v2/modelship.yaml"]);
  });

  it("waits again when a manifest changes between two scans, so one still being written is not read half-way", async () => {
    await watch();
    await put("models/tiny/v2/modelship.yaml", "name: ti");
    await scan(1);
    await put("models/tiny/v2/modelship.yaml", "name: tiny\nversion: v2\n");

    await scan(1);
    expect(handedOn).toEqual([]);
    await scan(1);
    expect(handedOn).toEqual(["models/tiny/v2/modelship.yaml"]);
  });

  it("hands a manifest on again when it is written again with new content, even one there at start", async () => {
    await put("models/tiny/v1/modelship.yaml", "name: tiny\n");
    await watch();
    await put("models/tiny/v1/modelship.yaml", "name: tiny\nversion: v1\n");
    await scan(2);
    expect(handedOn).toEqual(["models/tiny/v1/modelship.yaml"]);

    await put("models/tiny/v1/modelship.yaml", "name: tiny\nversion: v1\nformat: gguf\n");
    await scan(2);

    expect(handedOn).toEqual(["models/tiny/v1/modelship.yaml", "models/tiny/v1/modelship.yaml"]);
  });

  it("recognises modelship.yaml, modelship.yml and modelship.json", async () => {
    await watch();
    await put("models/a/v1/modelship.yaml");
    await put("models/b/v1/modelship.yml");
    await put("models/c/v1/modelship.json", "{}");

    await scan(2);

    expect(handedOn.sort()).toEqual([
      "models/a/v1/modelship.yaml",
      "models/b/v1/modelship.yml",
      "models/c/v1/modelship.json",
    ]);
  });

  it("never hands on a key claimed by an upload through the admin API, even one it was already waiting on", async () => {
    await watch();
    await put("models/tiny/v2/modelship.yaml");
    await watcher?.claim("models/tiny/v2/modelship.yaml");
    await put("models/tiny/v3/modelship.yaml");
    await scan(1);
    await watcher?.claim("models/tiny/v3/modelship.yaml");

    await scan(3);

    expect(handedOn).toEqual([]);
  });

  it("ignores files that are not manifests, manifests at other depths or outside models/, and hidden folders", async () => {
    await watch();
    for (const key of [
      "models/tiny/v1/model.gguf",
      "models/tiny/v1/modelship.yaml.bak",
      "models/tiny/v1/.modelship.yaml.modelship-tmp-1234",
      "models/tiny/modelship.yaml",
      "models/tiny/v1/nested/modelship.yaml",
      "models/.staging/v1/modelship.yaml",
      "models/tiny/.v2/modelship.yaml",
      "uploads/tiny/v1/modelship.yaml",
      "modelship.yaml",
    ]) {
      await put(key);
    }
    await mkdir(join(bucket, "models", "tiny", "v3", "modelship.json"), { recursive: true });

    await scan(3);

    expect(handedOn).toEqual([]);
    expect(logged).toEqual([]);
  });

  it("logs a manifest whose rollout could not be started, does not retry it, and goes on scanning", async () => {
    await watch(async (key) => {
      handedOn.push(key);
      if (key.startsWith("models/broken/")) throw new Error("the rollout store is not writable");
    });
    await put("models/broken/v1/modelship.yaml");
    await scan(2);
    await put("models/tiny/v1/modelship.yaml");

    await scan(4);

    expect(handedOn).toEqual(["models/broken/v1/modelship.yaml", "models/tiny/v1/modelship.yaml"]);
    expect(logged).toEqual([
      "Starting the rollout of models/broken/v1/modelship.yaml failed: Error: the rollout store is not writable",
    ]);
  });

  it("hands nothing on once closed", async () => {
    await watch();
    await put("models/tiny/v2/modelship.yaml");
    await scan(1);

    await watcher?.close();
    await scan(2);

    expect(handedOn).toEqual([]);
  });

  it("closes only once the manifest being handed on has been dealt with", async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await watch(async (key) => {
      handedOn.push(key);
      await held;
    });
    await put("models/tiny/v2/modelship.yaml");
    await scan(1);
    const scanning = watcher?.scanNow();
    await expect.poll(() => handedOn, { timeout: 30_000 }).toEqual(["models/tiny/v2/modelship.yaml"]);

    let closed = false;
    const closing = watcher?.close().then(() => (closed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    release();
    await closing;
    await scanning;

    expect(closed).toBe(true);
  });
  it("hands on a manifest that is a link without following it, so Prepare names the link instead of nothing happening", async () => {
    const outside = await mkdtemp(join(tmpdir(), "modelship-outside-"));
    try {
      // A FIFO outside the bucket: following the link to stat it finds no file, and the upload is ignored.
      execFileSync("mkfifo", [join(outside, "modelship.yaml")]);
      await watch();
      await put("models/tiny/v3/model.gguf", "weights");
      await symlink(join(outside, "modelship.yaml"), join(bucket, "models/tiny/v3/modelship.yaml"));

      await scan(2);

      expect(handedOn).toEqual(["models/tiny/v3/modelship.yaml"]);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});
