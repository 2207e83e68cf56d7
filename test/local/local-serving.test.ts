// LocalServing with real processes: the built-in llama.cpp server on a generated tiny GGUF (one healthy server
// shared by the lifecycle tests, plus short-lived ones that fail to load), and a command template whose
// "server" is a small Node script. After every test, every process spawned is dead.

import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import { CandidateFailed } from "../../lib/core/errors";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { LocalServing } from "../../lib/local/local-serving";
import type { CandidateHandle, CandidateSpec, CandidateStatus } from "../../lib/ports";
import { isRunning } from "../support/process-alive";

let work: string;
let bucket: string;
const spawnedPids: number[] = [];
const servings: LocalServing[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-local-serving-"));
  // A bucket path with a space and shell syntax: it must reach the server as one literal argument.
  bucket = join(work, "my bucket $HOME");
});

afterEach(async () => {
  await Promise.all(servings.splice(0).map((serving) => serving.stopAll()));
  for (const pid of spawnedPids.splice(0)) expect(isRunning(pid), `pid ${pid} is still running`).toBe(false);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function localServing(local: Partial<StackConfig["local"]> = {}): LocalServing {
  const config: StackConfig = { ...DEFAULT_STACK_CONFIG, local: { ...DEFAULT_STACK_CONFIG.local, ...local } };
  const serving = new LocalServing({ home: join(work, ".modelship"), config });
  servings.push(serving);
  return serving;
}

/** A version folder in the local bucket holding `files`, and the candidate spec that points at it. */
async function candidate(version: string, files: Record<string, Uint8Array>): Promise<CandidateSpec> {
  const prefix = `models/tiny/${version}/`;
  await mkdir(join(bucket, prefix), { recursive: true });
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(bucket, prefix, name), bytes);
  return {
    model: "tiny",
    version,
    rolloutId: `tiny-${version}-0123abcd`,
    servedName: "tiny",
    runtime: "llama.cpp",
    image: "ghcr.io/ggml-org/llama.cpp:server",
    gpus: 0,
    maxModelLen: 256,
    extraArgs: [],
    format: "gguf",
    weights: { bucket, prefix },
    weightBytes: 0,
  };
}

async function deploy(serving: LocalServing, spec: CandidateSpec): Promise<CandidateHandle> {
  const handle = await serving.deploy(spec);
  spawnedPids.push(handle.details?.["pid"] as number);
  return handle;
}

function until(serving: LocalServing, handle: CandidateHandle, phase: "ready" | "failed") {
  return vi.waitFor(
    async () => {
      const status = await serving.status(handle);
      if (status.phase !== phase) throw new Error(`still ${status.phase}: ${JSON.stringify(status)}`);
      return status;
    },
    { timeout: 30_000, interval: 100 },
  );
}

describe("LocalServing with the built-in llama.cpp server", () => {
  // The lifecycle of one rollout's server, in order: deploy, adopt, remove, deploy again, kill.
  let lifecycle: LocalServing;
  let handle: CandidateHandle;

  beforeAll(() => {
    lifecycle = new LocalServing({ home: join(work, ".modelship"), config: DEFAULT_STACK_CONFIG });
  });

  afterAll(async () => {
    await lifecycle.stopAll();
    if (handle) expect(isRunning(handle.details?.["pid"] as number)).toBe(false);
  });

  it("deploys a generated GGUF: pending while it starts, then ready, answering at the endpoint", async () => {
    const spec = await candidate("v1", { "model.gguf": buildTinyLlamaGguf({ seed: 2 }) });
    handle = await lifecycle.deploy(spec);
    expect(handle).toMatchObject({
      model: "tiny",
      version: "v1",
      rolloutId: spec.rolloutId,
      servedName: "tiny",
    });
    expect(handle.details).toMatchObject({
      pid: expect.any(Number),
      port: expect.any(Number),
      logPath: join(work, ".modelship", "logs", `${spec.rolloutId}.log`),
      startedAt: handle.deployedAt,
    });
    // A process spawned a moment ago cannot have loaded a model yet.
    const first = await lifecycle.status(handle);
    expect(first.phase).toBe("pending");
    expect(["Starting", "Loading"]).toContain(first.reason);

    const ready = await until(lifecycle, handle, "ready");
    expect(ready.readySeconds).toBeGreaterThan(0);
    expect((await lifecycle.status(handle)).readySeconds).toBe(ready.readySeconds);

    const endpoint = await lifecycle.endpoint(handle, "probe");
    expect(endpoint.baseUrl).toBe(`http://127.0.0.1:${handle.details?.["port"]}/v1`);
    expect(endpoint.servedName).toBe("tiny");
    expect(await servedModels(endpoint.baseUrl)).toEqual(["tiny"]);
    const chat = await fetch(`${endpoint.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...endpoint.headers },
      body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    });
    expect(chat.status).toBe(200);
    expect((await lifecycle.endpoint(handle, "load")).baseUrl).toBe(endpoint.baseUrl);
  });

  it("adopts the running server when the same rollout deploys again", async () => {
    const again = await lifecycle.deploy(await candidate("v1", {}));
    expect(again).toEqual(handle);
  });

  it("removes it with SIGTERM, which the server handles; removing twice is fine; a restarted control plane sees it gone", async () => {
    await lifecycle.remove(handle);
    expect(isRunning(handle.details?.["pid"] as number)).toBe(false);
    expect(await readFile(handle.details?.["logPath"] as string, "utf8")).toContain("stopping: SIGTERM");
    await lifecycle.remove(handle);

    const restarted = localServing();
    const status = await restarted.status(handle);
    expect(status).toMatchObject({ phase: "failed", reason: "ServerGone" });
    expect(status.message).toContain(String(handle.details?.["pid"]));
    await restarted.remove(handle);
  });

  it("starts a new server when the rollout deploys again after its server is gone", async () => {
    const again = await lifecycle.deploy(await candidate("v1", {}));
    expect(again.details?.["pid"]).not.toBe(handle.details?.["pid"]);
    handle = again;
    await until(lifecycle, handle, "ready");
  });

  it("reports a server killed with SIGKILL as failed, saying what killed it", async () => {
    process.kill(handle.details?.["pid"] as number, "SIGKILL");
    const failed = await until(lifecycle, handle, "failed");
    expect(failed).toMatchObject({ phase: "failed", reason: "ServerKilled" });
    expect(failed.message).toContain("SIGKILL");
    expect(failed.hint).toContain("memory");
    // Only this process's output: the log also holds the first server's, which was stopped by SIGTERM.
    expect(failed.logTail?.join("\n")).toContain("ready: serving tiny");
    expect(failed.logTail?.join("\n")).not.toContain("stopping: SIGTERM");
    await lifecycle.remove(handle);
  });
});

describe("LocalServing when the weights do not load", () => {
  const gguf = buildTinyLlamaGguf({ seed: 3 });
  const flipped = gguf.slice();
  flipped[0] = (flipped[0] as number) ^ 0xff;

  it.each([
    ["whose magic is flipped", "v-flipped", flipped, "Invalid GGUF magic"],
    ["cut in half", "v-truncated", gguf.slice(0, gguf.length / 2), "error loading model"],
  ])(
    "fails a GGUF %s as ModelLoadFailed, with the hint and the loader's error",
    async (_, version, bytes, error) => {
      const serving = localServing();
      const handle = await deploy(serving, await candidate(version, { "model.gguf": bytes }));
      const failed: CandidateStatus = await until(serving, handle, "failed");
      expect(failed.reason).toBe("ModelLoadFailed");
      expect(failed.message).toContain("could not load the weights");
      expect(failed.hint).toContain("modelship validate");
      expect(failed.logTail?.join("\n")).toContain(error);
    },
  );
});

describe("LocalServing with a command template", () => {
  /** A stand-in server: prints its argv (into the candidate's log) and answers /health and /v1/models. */
  const SCRIPT = `
import { createServer } from "node:http";
const args = process.argv.slice(2);
console.log("argv " + JSON.stringify(args));
const value = (flag) => args[args.indexOf(flag) + 1];
createServer((request, response) => {
  if (request.url === "/health") return response.end("ok");
  response.setHeader("content-type", "application/json");
  response.end(JSON.stringify({ object: "list", data: [{ id: value("--name"), object: "model" }] }));
}).listen(Number(value("--port")), "127.0.0.1");
`;

  it("runs the template with {dir}, {file}, {port} and {name} as separate arguments, never through a shell", async () => {
    const script = join(work, "fake server.mjs");
    await writeFile(script, SCRIPT);
    const serving = localServing({
      command: `"${process.execPath}" "${script}" --port {port} --name {name} --dir {dir} --file {file}`,
    });
    const spec = await candidate("v-template", { "model.gguf": new Uint8Array(8) });
    const handle = await deploy(serving, spec);
    await until(serving, handle, "ready");

    const log = await readFile(handle.details?.["logPath"] as string, "utf8");
    const argv = JSON.parse(/^argv (.*)$/m.exec(log)?.[1] ?? "null");
    const dir = join(bucket, spec.weights.prefix);
    expect(argv).toEqual([
      "--port",
      String(handle.details?.["port"]),
      "--name",
      "tiny",
      "--dir",
      dir,
      "--file",
      join(dir, "model.gguf"),
    ]);
    const endpoint = await serving.endpoint(handle, "probe");
    expect(await servedModels(endpoint.baseUrl)).toEqual(["tiny"]);

    await serving.remove(handle);
    expect(isRunning(handle.details?.["pid"] as number)).toBe(false);
    await serving.remove(handle);
  });

  it("stops every server of a rollout by its marker, even one a previous control plane started", async () => {
    const script = join(work, "fake server.mjs");
    await writeFile(script, SCRIPT);
    const command = `"${process.execPath}" "${script}" --port {port} --name {name}`;
    const before = localServing({ command });
    const ours = await deploy(before, await candidate("v-sweep", { "model.gguf": new Uint8Array(8) }));
    const theirs = await deploy(before, await candidate("v-other", { "model.gguf": new Uint8Array(8) }));
    await until(before, ours, "ready");

    const restarted = localServing({ command });
    const removed = await restarted.removeRollout("tiny", ours.rolloutId);

    const pid = ours.details?.["pid"] as number;
    expect(removed).toEqual([`Stopped a server of rollout ${ours.rolloutId} left running (pid ${pid}).`]);
    expect(isRunning(pid)).toBe(false);
    expect(isRunning(theirs.details?.["pid"] as number)).toBe(true);
    expect(await restarted.removeRollout("tiny", ours.rolloutId)).toEqual([]);
  });

  it("refuses a template whose program does not exist, and placeholders it does not know", async () => {
    const spec = await candidate("v-missing", { "model.gguf": new Uint8Array(8) });
    const missing = localServing({ command: "no-such-server-binary {dir}" });
    const error = await missing.deploy(spec).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CandidateFailed);
    expect((error as CandidateFailed).reason).toContain("no-such-server-binary");
    expect((error as CandidateFailed).hint).toContain("local.command");

    const unknown = localServing({ command: "vllm serve {model} --port {port}" });
    await expect(unknown.deploy(spec)).rejects.toThrow("{model}");
  });

  it("refuses safetensors weights without a template: the built-in server serves GGUF", async () => {
    const spec = { ...(await candidate("v-safetensors", {})), format: "safetensors" as const };
    await expect(localServing().deploy(spec)).rejects.toThrow(
      /GGUF weights, and this model's are safetensors/,
    );
  });
});

describe("LocalServing's process hooks", () => {
  it.each([
    // Nothing else keeps the control plane alive: a leaked candidate must not either.
    ["ends by itself", "", 0],
    ["is stopped by SIGTERM", "setInterval(() => {}, 1000);\nprocess.kill(process.pid, 'SIGTERM');", null],
  ])("stops every candidate when the control plane %s", async (_, ending, expectedCode) => {
    const script = join(work, "idle server.mjs");
    await writeFile(script, "setInterval(() => {}, 1000);\n");
    const spec = await candidate("v-hooks", { "model.gguf": new Uint8Array(8) });
    const source = (path: string) => JSON.stringify(pathToFileURL(join(import.meta.dirname, path)).href);
    const controlPlane = join(work, "control-plane.mts");
    await writeFile(
      controlPlane,
      `import { DEFAULT_STACK_CONFIG } from ${source("../../lib/core/config/config.ts")};
import { LocalServing } from ${source("../../lib/local/local-serving.ts")};
const command = ${JSON.stringify(`"${process.execPath}" "${script}"`)};
const serving = new LocalServing({
  home: ${JSON.stringify(join(work, ".modelship"))},
  config: { ...DEFAULT_STACK_CONFIG, local: { threads: 1, command } },
});
const handle = await serving.deploy(${JSON.stringify(spec)});
console.log(handle.details.pid);
${ending}
`,
    );
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    const parent = spawn(process.execPath, ["--import", tsx, controlPlane], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let printed = "";
    parent.stdout.on("data", (chunk: Buffer) => (printed += chunk.toString()));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      parent.once("exit", (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
    );
    const pid = Number(printed.trim());
    expect(pid).toBeGreaterThan(0);
    spawnedPids.push(pid);
    expect([code, signal]).toEqual(expectedCode === null ? [null, "SIGTERM"] : [expectedCode, null]);
    // The candidate was sent SIGTERM as its parent went; it is an orphan now, so wait for it to go.
    await vi.waitFor(() => expect(isRunning(pid)).toBe(false), { timeout: 10_000, interval: 50 });
  });
});

async function servedModels(baseUrl: string): Promise<string[]> {
  const list = (await (await fetch(`${baseUrl}/models`)).json()) as { data: { id: string }[] };
  return list.data.map((model) => model.id);
}
