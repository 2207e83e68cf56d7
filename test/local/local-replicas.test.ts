// A version served by several real llama.cpp server processes behind the local gateway: scaling starts and
// stops processes, the gateway balances over the ready ones by requests in flight, a replica leaving finishes
// what it was sent before it stops, and a restarted control plane starts the count the version had. Every
// process started is dead at the end.

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import { CandidateFailed } from "../../lib/core/errors";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { LocalGateway } from "../../lib/local/gateway/local-gateway";
import { LocalServing } from "../../lib/local/local-serving";
import type { AutoscalingSettings, CandidateHandle, CandidateSpec } from "../../lib/ports";
import { isRunning } from "../support/process-alive";
import { localVersionSpec } from "../support/local-version";

const CONFIG: StackConfig = { ...DEFAULT_STACK_CONFIG, local: { ...DEFAULT_STACK_CONFIG.local, threads: 2 } };
const QUEUE_DEPTH: AutoscalingSettings = {
  kind: "autoscaling",
  minReplicas: 1,
  maxReplicas: 3,
  metric: "queueDepth",
  target: 1,
  cooldownSeconds: 60,
};

let work: string;
let home: string;
let serving: LocalServing;
let gateway: LocalGateway;
let handle: CandidateHandle;
const seenPids = new Set<number>();

function newServing(): LocalServing {
  // Two cores, whatever this machine has: the split of threads is then known.
  return new LocalServing({ home, config: CONFIG, cores: 2, autoscaleEveryMs: 60_000 });
}

async function openGateway(over: LocalServing): Promise<LocalGateway> {
  const opened = await LocalGateway.open({
    home,
    adminSecret: "not-used-by-these-tests",
    port: 0,
    endpointOf: (h) => over.endpoint(h, "probe"),
    replicasOf: (h) => over.replicasOf(h),
  });
  over.countInFlightWith((baseUrl) => opened.inFlight(baseUrl));
  return opened;
}

function spec(): Promise<CandidateSpec> {
  return localVersionSpec(work, { model: "tiny", version: "v1", weights: buildTinyLlamaGguf({ seed: 7 }) });
}

/** Waits until `over` runs `count` ready replicas of the handle; returns their pids. */
async function untilReady(over: LocalServing, of: CandidateHandle, count: number): Promise<number[]> {
  return vi.waitFor(
    async () => {
      const replicas = await over.replicas(of);
      const pids = over.replicaStatus(of)?.pids ?? [];
      if (replicas.ready !== count || replicas.desired !== count || pids.length !== count) {
        throw new Error(`${JSON.stringify(replicas)}, pids ${pids.join(", ")}`);
      }
      for (const pid of pids) seenPids.add(pid);
      return [...pids];
    },
    { timeout: 60_000, interval: 100 },
  );
}

function chat(headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
    signal: AbortSignal.timeout(60_000),
  });
}

/** Requests each replica's server finished, by its pid, from its own /metrics. */
async function servedByPid(over: LocalServing, of: CandidateHandle): Promise<Map<number, number>> {
  const served = new Map<number, number>();
  for (const pod of await over.scrapeMetrics(of)) {
    const total = [...(pod.text ?? "").matchAll(/^vllm:request_success_total\{[^}]*\} (\d+)/gm)].reduce(
      (sum, match) => sum + Number(match[1]),
      0,
    );
    served.set(Number(pod.pod.replace("server-pid-", "")), total);
  }
  return served;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-local-replicas-"));
  home = join(work, ".modelship");
  serving = newServing();
  gateway = await openGateway(serving);
  handle = await serving.deploy(await spec());
  await untilReady(serving, handle, 1);
  await gateway.register("tiny", handle);
  await gateway.promote("tiny", "v1");
}, 90_000);

afterAll(async () => {
  await gateway?.close();
  await serving?.stopAll();
  for (const pid of seenPids) expect(isRunning(pid), `pid ${pid} still runs`).toBe(false);
  await rm(work, { recursive: true, force: true });
});

describe("LocalServing's replicas behind the local gateway", () => {
  it("starts a server process per replica, each on its own port, splitting the cores between them", async () => {
    await serving.scale(handle, 3);
    const pids = await untilReady(serving, handle, 3);
    const threads = await Promise.all(
      pids.map(async (pid) => {
        const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
        return Number(argv[argv.indexOf("--threads") + 1]);
      }),
    );
    // The first started alone with local.threads (2); the two started for a count of 3 on 2 cores get 1 each.
    expect(threads).toEqual([2, 1, 1]);
    const ports = (await serving.replicasOf(handle)).map((e) => e.baseUrl);
    expect(new Set(ports).size).toBe(3);
  }, 90_000);

  it("sends a version's requests to every ready replica: the fewest in flight first, ties in turn", async () => {
    const before = await servedByPid(serving, handle);
    for (let i = 0; i < 6; i++) expect((await chat()).status).toBe(200);
    const after = await servedByPid(serving, handle);
    expect([...after].map(([pid, n]) => n - (before.get(pid) ?? 0))).toEqual([2, 2, 2]);
  }, 60_000);

  it("takes a leaving replica out of rotation, lets its request finish, then stops it", async () => {
    await serving.scale(handle, 2);
    const [first, second] = await untilReady(serving, handle, 2);
    // Every request held 3 s by its server, so both replicas have one in flight when the scale-down starts.
    await gateway.setFault("tiny", "stable", {
      serverDelay: { fixedDelayMs: 3_000, minPromptTokens: 0, percentage: 100 },
    });
    const held = [chat(), chat()];
    const keys = (await serving.replicasOf(handle)).map((e) => e.baseUrl);
    await vi.waitFor(
      () => {
        if (!keys.every((key) => gateway.inFlight(key) === 1)) throw new Error("not both in flight yet");
      },
      { timeout: 10_000, interval: 20 },
    );
    const scaled = serving.scale(handle, 1);
    await vi.waitFor(
      async () => {
        if ((await serving.replicasOf(handle)).length !== 1) throw new Error("still in rotation");
      },
      { timeout: 5_000, interval: 10 },
    );
    expect(isRunning(second as number)).toBe(true);
    await gateway.setFault("tiny", "stable", undefined);
    const during = await chat();
    expect(during.status).toBe(200);
    for (const answer of await Promise.all(held)) expect(answer.status).toBe(200);
    await scaled;
    expect(isRunning(second as number)).toBe(false);
    expect(isRunning(first as number)).toBe(true);
    expect(await serving.replicas(handle)).toEqual({ desired: 1, ready: 1 });
  }, 90_000);

  it("pins an autoscaler to the rollout's count and gives it the manifest's range back", async () => {
    const choice = await serving.autoscale(handle, QUEUE_DEPTH, { minReplicas: 2, maxReplicas: 2 });
    expect(choice.kind).toBe("local");
    expect(choice.reason).toMatch(/between 1 and 3 server processes on queueDepth/);
    await untilReady(serving, handle, 2);
    expect(serving.replicaStatus(handle)?.autoscaler?.range).toEqual({ minReplicas: 2, maxReplicas: 2 });
    await serving.scale(handle, "autoscaled");
    expect(serving.replicaStatus(handle)?.autoscaler?.range).toEqual({ minReplicas: 1, maxReplicas: 3 });
    // Given its range back, it keeps the count it runs until its metric says otherwise.
    expect((await serving.replicas(handle)).desired).toBe(2);
  }, 90_000);

  it("refuses kvCacheUsage, with the reason", async () => {
    const refused = serving.autoscale(
      handle,
      { ...QUEUE_DEPTH, metric: "kvCacheUsage", target: 0.5 },
      {
        minReplicas: 1,
        maxReplicas: 3,
      },
    );
    await expect(refused).rejects.toThrow(CandidateFailed);
    await expect(refused).rejects.toThrow(/one request at a time/);
  });

  it("starts the count and the autoscaler the version had when a restarted control plane brings it back", async () => {
    const before = await untilReady(serving, handle, 2);
    await gateway.close();
    await serving.stopAll();
    for (const pid of before) expect(isRunning(pid)).toBe(false);

    serving = newServing();
    gateway = await openGateway(serving);
    handle = await serving.restart(handle);
    const after = await untilReady(serving, handle, 2);
    expect(after.some((pid) => before.includes(pid))).toBe(false);
    expect(serving.replicaStatus(handle)?.autoscaler).toMatchObject({
      metric: "queueDepth",
      range: { minReplicas: 1, maxReplicas: 3 },
    });
  }, 90_000);
});
