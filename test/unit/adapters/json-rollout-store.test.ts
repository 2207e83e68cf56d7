import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { JsonFileRolloutStore } from "../../../lib/local/json-rollout-store";
import { describeRolloutStoreContract } from "./rollout-store-contract";

const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

async function freshFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), "modelship-rollouts-"));
  folders.push(folder);
  return folder;
}

describeRolloutStoreContract("JsonFileRolloutStore", async () => {
  return new JsonFileRolloutStore(join(await freshFolder(), "rollouts.json"));
});

describe("JsonFileRolloutStore", () => {
  const holder = (rolloutId: string) => ({
    rolloutId,
    version: rolloutId,
    since: "2025-01-01T00:00:00.000Z",
  });

  it("gives the lock to exactly one of two rollouts racing for it", async () => {
    const file = join(await freshFolder(), "rollouts.json");
    const [first, second] = [new JsonFileRolloutStore(file), new JsonFileRolloutStore(file)];
    const results = await Promise.all([
      first.acquireLock("llama", holder("rollout-a")),
      second.acquireLock("llama", holder("rollout-b")),
    ]);
    expect(results.filter((r) => r.acquired)).toHaveLength(1);
    const winner = results[0]?.acquired ? "rollout-a" : "rollout-b";
    expect((await first.get("llama"))?.lock?.rolloutId).toBe(winner);
  });

  it("loses no transition when many are recorded at once", async () => {
    const file = join(await freshFolder(), "rollouts.json");
    const store = new JsonFileRolloutStore(file);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        new JsonFileRolloutStore(file).record("llama", {
          at: "2025-01-01T00:00:00.000Z",
          rolloutId: "r",
          version: "v1",
          stage: `stage-${i}`,
          status: "running",
          reason: "concurrent",
        }),
      ),
    );
    expect((await store.get("llama"))?.history).toHaveLength(20);
  });

  it("loses no transition when two processes record at the same time", async () => {
    const file = join(await freshFolder(), "rollouts.json");
    const storeModule = new URL("../../../lib/local/json-rollout-store.ts", import.meta.url).pathname;
    const script = `
      const { JsonFileRolloutStore } = await import(${JSON.stringify(storeModule)});
      const store = new JsonFileRolloutStore(${JSON.stringify(file)});
      for (let i = 0; i < 15; i++) {
        await store.record("llama", { at: new Date().toISOString(), rolloutId: process.argv[1], version: "v1",
          stage: "s" + i, status: "running", reason: "from another process" });
      }`;
    const runWriter = (name: string) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          ["--import", "tsx", "--input-type=module", "-e", script, name],
          {
            stdio: ["ignore", "ignore", "pipe"],
          },
        );
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", reject);
        child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`writer ${name}: ${stderr}`))));
      });
    await Promise.all([runWriter("process-a"), runWriter("process-b")]);
    const history = (await new JsonFileRolloutStore(file).get("llama"))?.history ?? [];
    expect(history.filter((t) => t.rolloutId === "process-a")).toHaveLength(15);
    expect(history.filter((t) => t.rolloutId === "process-b")).toHaveLength(15);
  });

  it("breaks a lock file left by a process that no longer exists", async () => {
    const folder = await freshFolder();
    const file = join(folder, "rollouts.json");
    const deadPid = 2 ** 30;
    await writeFile(`${file}.lock`, `${deadPid}\n`);
    const store = new JsonFileRolloutStore(file);
    expect(await store.acquireLock("llama", holder("rollout-a"))).toEqual({ acquired: true });
    expect(await readdir(folder)).toEqual(["rollouts.json"]);
  });

  it("keeps the file whole and readable after every write, with no temp files left", async () => {
    const folder = await freshFolder();
    const file = join(folder, "rollouts.json");
    const store = new JsonFileRolloutStore(file);
    await store.acquireLock("llama", holder("rollout-a"));
    await store.saveVersionResults("llama", "v1", { eval: { score: 0.5 } });
    expect(JSON.parse(await readFile(file, "utf8"))).toMatchObject({ format: "modelship-rollouts/1" });
    expect(await readdir(folder)).toEqual(["rollouts.json"]);
  });

  it("claims a key again once its claim has expired", async () => {
    const file = join(await freshFolder(), "rollouts.json");
    const expired = Date.now() - 1000;
    await writeFile(
      file,
      JSON.stringify({
        format: "modelship-rollouts/1",
        models: {},
        claims: { k: expired },
        versionResults: {},
      }),
    );
    const store = new JsonFileRolloutStore(file);
    expect(await store.claimOnce("k")).toBe(true);
    expect(await store.claimOnce("k")).toBe(false);
  });

  it("refuses a file that is not a rollout store, names it, and leaves it untouched", async () => {
    const file = join(await freshFolder(), "rollouts.json");
    await writeFile(file, '{"some": "other tool\'s data"}');
    const store = new JsonFileRolloutStore(file);
    await expect(store.acquireLock("llama", holder("rollout-a"))).rejects.toThrow(
      `${file} is not a modelship rollout store`,
    );
    await expect(store.get("llama")).rejects.toThrow("will not overwrite it");
    expect(await readFile(file, "utf8")).toBe('{"some": "other tool\'s data"}');
  });

  it("names every model whose record is not one, with the path of each problem", async () => {
    const file = join(await freshFolder(), "rollouts.json");
    await writeFile(
      file,
      JSON.stringify({
        format: "modelship-rollouts/1",
        models: {
          llama: { model: "llama", lock: "mine", history: [{ stage: "Prepare" }] },
          qwen: { model: "mistral", history: [] },
        },
        claims: {},
        versionResults: {},
      }),
    );
    const error = await new JsonFileRolloutStore(file).list().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "StateFileInvalid", file });
    expect((error as { problems: string[] }).problems).toEqual([
      'models.llama.lock should be {"rolloutId", "version", "since"}',
      'models.llama.history[0] should be a transition {"at", "rolloutId", "version", "stage", "status", "reason"}',
      'models.qwen should be {"model": "qwen", "history": [...], ...}',
    ]);
  });

  it("refuses a truncated file instead of starting over", async () => {
    const file = join(await freshFolder(), "rollouts.json");
    await writeFile(file, '{"format": "modelship-rollouts/1", "models": {');
    await expect(
      new JsonFileRolloutStore(file).record("llama", {
        at: "2025-01-01T00:00:00.000Z",
        rolloutId: "r",
        version: "v1",
        stage: "Prepare",
        status: "running",
        reason: "x",
      }),
    ).rejects.toThrow("is not valid JSON");
  });
});
