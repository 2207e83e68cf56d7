import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { ManifestInvalid, SloViolated, Transient } from "../../lib/core/errors";
import type { ResolvedStressGate } from "../../lib/core/manifest/manifest-schema";
import { planRollout } from "../../lib/core/rollout/plan";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { parseLoadResult } from "../../lib/loadgen/load-result";
import { mergeStress, type StressGateResult } from "../../lib/pipeline/merge-stress";
import { stressWorker, type StressWorkerResult } from "../../lib/pipeline/stress-worker";
import type { CandidateHandle, Endpoint } from "../../lib/ports";
import { type Reply, StreamingServer } from "../loadgen/streaming-server";
import { FixedClock } from "../support/fixed-clock";
import { MemoryEvents } from "../support/memory-events";
import { MemoryObjectStore } from "../support/memory-object-store";
import { MemoryRolloutStore } from "../support/memory-rollout-store";
import { MemoryServing } from "../support/memory-serving";
import { ROLLOUT, stateAfterValidate } from "../support/rollout-state";
import { FAST, SLOW, STEADY, STRESS_HANDLE } from "../support/stress-candidate";

const REPORTS = `reports/${ROLLOUT.model}/${ROLLOUT.version}/${ROLLOUT.id}`;

/**
 * A candidate whose heavy-traffic route (`load`) is the test's server and whose light one (`probe`) leads
 * nowhere, as when the stress workers go around the gateway: a worker must use the load route.
 */
class LoadRouteServing extends MemoryServing {
  load: () => string = () => "http://127.0.0.1:9";

  override async endpoint(handle: CandidateHandle, purpose?: "probe" | "load"): Promise<Endpoint> {
    const baseUrl = purpose === "load" ? this.load() : "http://127.0.0.1:9";
    return { baseUrl, headers: {}, servedName: handle.servedName };
  }
}

interface World {
  readonly clock: FixedClock;
  readonly config: typeof DEFAULT_STACK_CONFIG;
  readonly objects: MemoryObjectStore;
  readonly serving: LoadRouteServing;
  readonly store: MemoryRolloutStore;
  readonly events: MemoryEvents;
}

function world(): World {
  const clock = new FixedClock();
  return {
    clock,
    config: DEFAULT_STACK_CONFIG,
    objects: new MemoryObjectStore(),
    serving: new LoadRouteServing(clock),
    store: new MemoryRolloutStore(),
    events: new MemoryEvents(),
  };
}

const servers: StreamingServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function serve(replyTo: (index: number) => Reply): Promise<StreamingServer> {
  const server = await StreamingServer.start(replyTo);
  servers.push(server);
  return server;
}

type StressInput = Record<string, unknown>;

/** A one-second test with no warm-up and small prompts; `stress` adds to or overrides it. JSON is YAML. */
function manifest(stress: StressInput): string {
  const test = { durationSeconds: 1, warmupSeconds: 0, inputTokens: 16, outputTokens: 4, ...stress };
  return `gates: {stress: ${JSON.stringify(test)}}`;
}

/** The state the StressTest Map gets: prepared (with `stableVersion`, if any), validated and deployed. */
function deployedState(stress: StressInput, stableVersion?: string): ExecutionState {
  const state = stateAfterValidate(manifest(stress));
  const record = stableVersion ? { model: ROLLOUT.model, stableVersion, history: [] } : undefined;
  const plan = planRollout(state.manifest!, record, DEFAULT_STACK_CONFIG);
  return { ...state, plan, candidate: { handle: STRESS_HANDLE, readinessChecks: 1 } };
}

function gateOf(state: ExecutionState): ResolvedStressGate {
  return state.manifest!.gates.stress;
}

/** The StressTest Map as the state machine runs it: every worker at once, results under `$.stress.workers`. */
async function runStressMap(state: ExecutionState, deps: World): Promise<ExecutionState> {
  const workers = await Promise.all(
    state.plan!.stressWorkers.map((worker) =>
      stressWorker({ rollout: state.rollout, candidate: STRESS_HANDLE, gate: gateOf(state), worker }, deps),
    ),
  );
  return { ...state, stress: { workers } };
}

function workersOf(state: ExecutionState): StressWorkerResult[] {
  return state.stress!["workers"] as StressWorkerResult[];
}

async function gateFailure(state: ExecutionState, deps: World): Promise<SloViolated> {
  const error = await mergeStress(state, deps).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SloViolated);
  return error as SloViolated;
}

/** The number a finding's message gives after `label`, e.g. `TTFT p95 was 812.3 ms` → 812.3. */
function measuredIn(message: string, label: string): number {
  const match = new RegExp(`${label} was ([\\d.]+)`).exec(message);
  if (!match) throw new Error(`"${message}" does not say what ${label} was`);
  return Number(match[1]);
}

function storedJson<T>(deps: World, key: string): T {
  const text = deps.objects.text(key);
  if (text === undefined) throw new Error(`${key} was not written`);
  return JSON.parse(text) as T;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("StressWorker", () => {
  it("splits the concurrency across the workers, one more for each of the first (remainder) workers", async () => {
    const deps = world();
    const state = deployedState({ concurrency: 10, workers: 4 });
    const inFlight: number[] = [];
    const shares: (number | undefined)[] = [];
    for (const worker of state.plan!.stressWorkers) {
      // Each request lasts 400 ms, so all of a worker's requests overlap: the server sees its whole share.
      const server = await serve(() => ({ kind: "stream", ttftMs: 400, gapMs: 1, chunks: 2 }));
      deps.serving.load = () => server.baseUrl;
      const result = await stressWorker(
        { rollout: ROLLOUT, candidate: STRESS_HANDLE, gate: gateOf(state), worker },
        deps,
      );
      shares.push(result.concurrency);
      inFlight.push(server.maxInFlight);
    }
    expect(shares).toEqual([3, 3, 2, 2]);
    expect(inFlight).toEqual([3, 3, 2, 2]);
  });

  it("divides the rate: four workers at a quarter of it send what one worker at all of it sends", async () => {
    const deps = world();
    const state = deployedState({ mode: "rate", rate: 8, workers: 4 });
    // Evenly spaced arrivals: the schedule, not the machine's speed, decides how many requests are sent.
    const gate = { ...gateOf(state), burstiness: Infinity };
    const together = await serve(() => FAST);
    deps.serving.load = () => together.baseUrl;
    const shares = await Promise.all(
      state.plan!.stressWorkers.map((worker) =>
        stressWorker({ rollout: ROLLOUT, candidate: STRESS_HANDLE, gate, worker }, deps),
      ),
    );
    const alone = await serve(() => FAST);
    deps.serving.load = () => alone.baseUrl;
    const single = await stressWorker(
      { rollout: ROLLOUT, candidate: STRESS_HANDLE, gate, worker: { index: 0, of: 1 } },
      deps,
    );

    expect(shares.map((s) => s.rate)).toEqual([2, 2, 2, 2]);
    expect(shares.map((s) => s.requests)).toEqual([2, 2, 2, 2]);
    expect(single).toMatchObject({ rate: 8, requests: 8 });
    expect(together.bodies).toHaveLength(alone.bodies.length);
  });

  it("leaves a worker with no share of the concurrency idle, says so, and MergeStress merges the others", async () => {
    const deps = world();
    const server = await serve(() => FAST);
    deps.serving.load = () => server.baseUrl;
    const state = await runStressMap(
      deployedState({ concurrency: 3, workers: 4, slo: { errorRate: 0.5 } }),
      deps,
    );

    const [, , , idle] = workersOf(state);
    expect(idle?.resultKey).toBeUndefined();
    expect(idle?.idle).toMatch(/Worker 4 of 4 sent nothing: a concurrency of 3/);
    expect(await deps.objects.list(`${REPORTS}/stress/`)).toHaveLength(3);

    const merged = await mergeStress(state, deps);
    expect(merged.workers).toBe(3);
    expect(merged.requests).toBe(server.bodies.length);
  });

  it("gives every worker prompts of its own, and a retried worker the prompts it sent before", async () => {
    const deps = world();
    // Long enough for many prompts of the length: 16 tokens are a single word with the test's tokenizer.
    const state = deployedState({ concurrency: 2, workers: 2, inputTokens: 64 });
    const firstPrompts = async (index: number) => {
      const server = await serve(() => FAST);
      deps.serving.load = () => server.baseUrl;
      await stressWorker(
        { rollout: ROLLOUT, candidate: STRESS_HANDLE, gate: gateOf(state), worker: { index, of: 2 } },
        deps,
      );
      // One request in flight at a time: the server sees them in the order the worker drew them.
      return server.bodies.slice(0, 3).map((body) => JSON.stringify(body["messages"]));
    };

    const worker0 = await firstPrompts(0);
    const retried = await firstPrompts(0);
    const worker1 = await firstPrompts(1);
    expect(retried).toEqual(worker0);
    expect(worker1[0]).not.toEqual(worker0[0]);
  });

  it("writes its LoadResult to the bucket and returns only a small summary with its key", async () => {
    const deps = world();
    const server = await serve(() => FAST);
    deps.serving.load = () => server.baseUrl;
    const state = deployedState({ concurrency: 2, workers: 1 });
    const result = await stressWorker(
      { rollout: ROLLOUT, candidate: STRESS_HANDLE, gate: gateOf(state), worker: { index: 0, of: 1 } },
      deps,
    );

    expect(result.resultKey).toBe(`${REPORTS}/stress/worker-0-of-1.json`);
    const stored = parseLoadResult(storedJson(deps, result.resultKey!), result.resultKey!);
    expect(stored.counters.completed + stored.counters.failed).toBe(result.requests);
    expect(result.requests).toBe(server.bodies.length);
    // 40 of these must stay far below Step Functions' 256 KB.
    expect(JSON.stringify(result).length).toBeLessThan(1000);
  });

  it("sends synthetic prompts of inputTokens as the candidate counts them, chat template included, and says how they were calibrated", async () => {
    const deps = world();
    // The test server counts a token per character and 12 for its chat template.
    const server = await serve(() => ({ ...FAST, usage: { completion: 4 } }));
    deps.serving.load = () => server.baseUrl;
    const state = deployedState({ concurrency: 2, workers: 1, inputTokens: 48 });
    const result = await stressWorker(
      { rollout: ROLLOUT, candidate: STRESS_HANDLE, gate: gateOf(state), worker: { index: 0, of: 1 } },
      deps,
    );

    expect(server.bodies.length).toBeGreaterThan(0);
    expect(new Set(server.bodies.map((body) => server.promptTokens(body)))).toEqual(new Set([48]));
    expect(result.promptLengths).toMatch(
      /^calibrated to the candidate's count \(\/tokenize, \d+ requests\): a prompt composed to 48 tokens counted 48$/,
    );
    const stored = parseLoadResult(storedJson(deps, result.resultKey!), result.resultKey!);
    expect(stored.counters.inputTokens).toBe(48 * stored.counters.completed);
  });

  it("is ManifestInvalid naming inputTokens, with the numbers, when the prompts and answers cannot fit the candidate's context, before any load", async () => {
    const deps = world();
    const server = await StreamingServer.start(() => FAST, { maxModelLen: 256 });
    servers.push(server);
    deps.serving.load = () => server.baseUrl;
    const state = deployedState({ concurrency: 2, workers: 1, inputTokens: 512, outputTokens: 128 });
    const error = await stressWorker(
      { rollout: ROLLOUT, candidate: STRESS_HANDLE, gate: gateOf(state), worker: { index: 0, of: 1 } },
      deps,
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ManifestInvalid);
    expect((error as ManifestInvalid).reason).toBe(
      "The stress test's requests cannot be sent to tiny as gates.stress.inputTokens sets them.",
    );
    expect((error as ManifestInvalid).findings).toEqual([
      expect.objectContaining({
        code: "stress.does-not-fit",
        path: "gates.stress.inputTokens",
        message:
          "Prompts of up to 512 tokens with answers of up to 128 need 640 tokens of context, but the server serves tiny with a context of 256 tokens " +
          "(max_model_len in GET /v1/models): every request would fail. Lower gates.stress.inputTokens to at most 128 (with gates.stress.outputTokens 128), or lower gates.stress.outputTokens.",
      }),
    ]);
    expect(server.bodies).toHaveLength(0);
    expect(await deps.objects.list(`${REPORTS}/`)).toEqual([]);
  });

  it("is ManifestInvalid when inputTokens is shorter than the candidate's chat template and one word", async () => {
    const deps = world();
    const server = await serve(() => FAST);
    deps.serving.load = () => server.baseUrl;
    const state = deployedState({ concurrency: 2, workers: 1, inputTokens: 8 });
    const error = await stressWorker(
      { rollout: ROLLOUT, candidate: STRESS_HANDLE, gate: gateOf(state), worker: { index: 0, of: 1 } },
      deps,
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ManifestInvalid);
    expect((error as ManifestInvalid).findings.map((f) => [f.path, f.message])).toEqual([
      [
        "gates.stress.inputTokens",
        "The shortest prompt this server can be sent is 14 tokens as it counts them (its chat template and one word), " +
          "but gates.stress.inputTokens 8 asks for 8. Raise gates.stress.inputTokens to at least 14.",
      ],
    ]);
    expect(server.bodies).toHaveLength(0);
  });

  it("sends estimated lengths, and says why, when the candidate counts no prompt tokens", async () => {
    const deps = world();
    const server = await StreamingServer.start(() => ({ ...FAST, usage: undefined }), {
      tokenizeRoute: false,
    });
    servers.push(server);
    deps.serving.load = () => server.baseUrl;
    const state = deployedState({ concurrency: 1, workers: 1 });
    const result = await stressWorker(
      { rollout: ROLLOUT, candidate: STRESS_HANDLE, gate: gateOf(state), worker: { index: 0, of: 1 } },
      deps,
    );

    expect(result.promptLengths).toMatch(
      /^estimates \(a word taken for a token\): the server counts no prompt tokens: .*usage\.prompt_tokens$/,
    );
    expect(result.requests).toBeGreaterThan(0);
  });

  it("is Transient when nothing answers at the candidate's load endpoint, and writes nothing", async () => {
    const deps = world();
    const port = await closedPort();
    deps.serving.load = () => `http://127.0.0.1:${port}`;
    const state = deployedState({ concurrency: 2, workers: 1 });
    const error = await stressWorker(
      { rollout: ROLLOUT, candidate: STRESS_HANDLE, gate: gateOf(state), worker: { index: 0, of: 1 } },
      deps,
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Transient);
    expect((error as Transient).reason).toContain(`does not answer at http://127.0.0.1:${port}`);
    expect(await deps.objects.list(`${REPORTS}/`)).toEqual([]);
  });

  it("stops at once when its execution is stopped, stores nothing, and throws Interrupted instead of a result", async () => {
    const deps = world();
    const server = await serve(() => FAST);
    deps.serving.load = () => server.baseUrl;
    const state = deployedState({ concurrency: 2, workers: 1, durationSeconds: 600 });
    const stop = new AbortController();
    const stopped = stressWorker(
      { rollout: ROLLOUT, candidate: STRESS_HANDLE, gate: gateOf(state), worker: { index: 0, of: 1 } },
      deps,
      { signal: stop.signal },
    ).catch((e: unknown) => e);
    // Stopped once the load is under way: the test asked for ten minutes of it.
    while (server.bodies.length < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    stop.abort();
    const error = await stopped;

    expect(error).toMatchObject({
      name: "Interrupted",
      reason: "The rollout was stopped during stress worker 1 of 1; what was measured is discarded.",
    });
    expect(await deps.objects.list(`${REPORTS}/`)).toEqual([]);
  });

  it("counts failed requests as data, not as a worker failure", async () => {
    const deps = world();
    const server = await serve((i) => (i % 2 === 0 ? { kind: "status", status: 503 } : FAST));
    deps.serving.load = () => server.baseUrl;
    const state = deployedState({ concurrency: 2, workers: 1 });
    const result = await stressWorker(
      { rollout: ROLLOUT, candidate: STRESS_HANDLE, gate: gateOf(state), worker: { index: 0, of: 1 } },
      deps,
    );

    const injected = server.bodies.filter((_, i) => i % 2 === 0).length;
    expect(result.failed).toBe(injected);
    expect(result.requests).toBe(server.bodies.length);
  });

  it("refuses a test longer than a worker's task can run, before sending anything, naming the field", async () => {
    const deps = world();
    const server = await serve(() => FAST);
    deps.serving.load = () => server.baseUrl;
    const gate = { ...gateOf(deployedState({ concurrency: 2, workers: 1 })), durationSeconds: 800 };
    const error = await stressWorker(
      { rollout: ROLLOUT, candidate: STRESS_HANDLE, gate, worker: { index: 0, of: 1 } },
      deps,
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ManifestInvalid);
    expect((error as ManifestInvalid).findings[0]?.path).toBe("gates.stress.durationSeconds");
    expect((error as ManifestInvalid).hint).toMatch(/durationSeconds to at most 720/);
    expect(server.bodies).toHaveLength(0);
  });
});

describe("MergeStress", () => {
  it("merges the workers' results into what the server saw: every request, every injected error, every token", async () => {
    const deps = world();
    // Every 5th request is refused with a 503; the others stream 4 tokens and report them in usage.
    const server = await serve((i) => (i % 5 === 4 ? { kind: "status", status: 503 } : FAST));
    deps.serving.load = () => server.baseUrl;
    const state = await runStressMap(
      deployedState({ concurrency: 6, workers: 3, slo: { errorRate: 0.5 } }),
      deps,
    );
    const merged = await mergeStress(state, deps);

    const injected = server.bodies.filter((_, i) => i % 5 === 4).length;
    expect(merged.workers).toBe(3);
    expect(merged.requests).toBe(server.bodies.length);
    expect(merged.requests).toBe(workersOf(state).reduce((sum, w) => sum + w.requests, 0));
    expect(merged.failed).toBe(injected);
    expect(merged.errors).toEqual({ http_503: injected });
    const report = storedJson<{ summary: { outputTokens: number; completed: number } }>(
      deps,
      merged.reportKey,
    );
    expect(report.summary.outputTokens).toBe(4 * (server.bodies.length - injected));
  });

  it("passes a candidate within every SLO and returns the profile and numbers Promote keeps", async () => {
    const deps = world();
    const server = await serve(() => FAST);
    deps.serving.load = () => server.baseUrl;
    const slo = {
      ttftP95Ms: 5000,
      tpotP95Ms: 2000,
      e2eP95Ms: 10000,
      errorRate: 0.01,
      minOutputTokensPerSecond: 1,
    };
    const state = await runStressMap(deployedState({ concurrency: 4, workers: 2, slo }), deps);
    const result = await mergeStress(state, deps);

    expect(result.profile).toEqual({ mode: "concurrency", concurrency: 4, inputTokens: 16, outputTokens: 4 });
    expect(result.checks.map((c) => [c.name, c.pass])).toEqual([
      ["ttftP95Ms", true],
      ["tpotP95Ms", true],
      ["e2eP95Ms", true],
      ["errorRate", true],
      ["minOutputTokensPerSecond", true],
    ]);
    expect(result.latency.ttft?.p95Ms).toBeGreaterThanOrEqual(10);
    expect(result.latency.ttft?.p95Ms).toBeLessThan(5000);
    expect(result.comparison).toBeUndefined();
    expect(result.reportKey).toBe(`${REPORTS}/stress.json`);
    expect(result.summary).toMatch(/requests at concurrency 4, 16 → 4 tokens: TTFT p95 [\d.]+ ms/);

    const report = storedJson<{
      passed: boolean;
      profile: unknown;
      checks: { name: string; threshold: number; measured: number; pass: boolean }[];
      result: unknown;
    }>(deps, result.reportKey);
    expect(report.passed).toBe(true);
    expect(report.profile).toEqual(result.profile);
    expect(report.checks.find((c) => c.name === "ttftP95Ms")).toMatchObject({ threshold: 5000, pass: true });
    expect(parseLoadResult(report.result, "stress.json's result").counters.completed).toBe(result.requests);
    expect(deps.events.ofType("Stage Succeeded")[0]?.detail.message).toContain("passed the stress gate");
    expect(JSON.stringify(result).length).toBeLessThan(4000);
  });

  it("fails with SloViolated naming every violated SLO, its threshold and the measured value", async () => {
    const deps = world();
    // Far slower than every SLO below, and every other request refused.
    const server = await serve((i) =>
      i % 2 === 0 ? { kind: "status", status: 503 } : { kind: "stream", ttftMs: 300, gapMs: 150, chunks: 3 },
    );
    deps.serving.load = () => server.baseUrl;
    const slo = {
      ttftP95Ms: 50,
      tpotP95Ms: 20,
      e2eP95Ms: 100,
      errorRate: 0.01,
      minOutputTokensPerSecond: 100000,
    };
    const state = await runStressMap(deployedState({ concurrency: 2, workers: 2, slo }), deps);
    const error = await gateFailure(state, deps);

    expect(error.reason).toMatch(/failed the stress gate: 5 of 5 checks violated/);
    const byPath = new Map(error.findings.map((f) => [f.path, f.message]));
    expect([...byPath.keys()]).toEqual([
      "gates.stress.slo.ttftP95Ms",
      "gates.stress.slo.tpotP95Ms",
      "gates.stress.slo.e2eP95Ms",
      "gates.stress.slo.errorRate",
      "gates.stress.slo.minOutputTokensPerSecond",
    ]);
    const ttft = byPath.get("gates.stress.slo.ttftP95Ms")!;
    expect(ttft).toContain("the SLO allows at most 50 ms");
    expect(measuredIn(ttft, "TTFT p95")).toBeGreaterThanOrEqual(300);
    const tpot = byPath.get("gates.stress.slo.tpotP95Ms")!;
    expect(tpot).toContain("the SLO allows at most 20 ms");
    expect(measuredIn(tpot, "TPOT p95")).toBeGreaterThanOrEqual(150);
    const e2e = byPath.get("gates.stress.slo.e2eP95Ms")!;
    expect(e2e).toContain("the SLO allows at most 100 ms");
    expect(measuredIn(e2e, "E2E p95")).toBeGreaterThanOrEqual(600);
    expect(byPath.get("gates.stress.slo.errorRate")).toMatch(
      /error rate was [\d.]+% \(\d+ of \d+ requests failed: http_503 ×\d+ \("injected 503"\)\); the SLO allows at most 1\.00%/,
    );
    expect(byPath.get("gates.stress.slo.minOutputTokensPerSecond")).toMatch(
      /Output throughput was [\d.]+ tokens\/s; the SLO asks for at least 100000 tokens\/s/,
    );
    expect(error.hint).toMatch(
      /raise it in gates\.stress\.slo.*lower gates\.stress\.concurrency.*model or server config/,
    );
    expect(error.hint).toContain(`s3://memory-bucket/${REPORTS}/stress.json`);
    expect(storedJson<{ passed: boolean }>(deps, `${REPORTS}/stress.json`).passed).toBe(false);
  });

  it("names every missing or unreadable worker result, not just the first", async () => {
    const deps = world();
    const server = await serve(() => FAST);
    deps.serving.load = () => server.baseUrl;
    const state = await runStressMap(deployedState({ concurrency: 3, workers: 3 }), deps);
    const [first, second, third] = workersOf(state);
    await deps.objects.put(first!.resultKey!, JSON.stringify({ histograms: 5 }));
    await deps.objects.put(second!.resultKey!, "{not json");
    const gone = `${REPORTS}/stress/worker-2-of-3-gone.json`;
    const damaged = { ...state, stress: { workers: [first, second, { ...third, resultKey: gone }] } };

    const error = (await mergeStress(damaged, deps).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain(
      `worker 0 of 3: s3://memory-bucket/${first!.resultKey} is not a load result`,
    );
    expect(error.message).toContain(`worker 1 of 3: s3://memory-bucket/${second!.resultKey} is not JSON`);
    expect(error.message).toContain(`worker 2 of 3: s3://memory-bucket/${gone} does not exist`);
  });
});

describe("MergeStress against the stable version", () => {
  const STABLE = "v2";
  const PROFILE = { concurrency: 2, workers: 2 };

  /** Stable's stress result, kept with its version the way Promote keeps `$.stress`. */
  async function keepStableResult(deps: World, stress: StressInput): Promise<StressGateResult> {
    const server = await serve(() => STEADY);
    deps.serving.load = () => server.baseUrl;
    const result = await mergeStress(await runStressMap(deployedState(stress), deps), deps);
    await deps.store.saveVersionResults(ROLLOUT.model, STABLE, {
      rolloutId: "llama-v2-00000000",
      stress: JSON.parse(JSON.stringify(result)) as unknown,
    });
    return result;
  }

  async function candidateRun(deps: World, reply: Reply, stress: StressInput): Promise<ExecutionState> {
    const server = await serve(() => reply);
    deps.serving.load = () => server.baseUrl;
    return runStressMap(deployedState(stress, STABLE), deps);
  }

  it("fails a candidate slower than stable by more than maxRegressionRatio, naming each metric and both values", async () => {
    const deps = world();
    await keepStableResult(deps, PROFILE);
    // 1.2, far under SLOW's 15×: a stall on a busy machine that inflates stable's p95 (a max, over a few
    // requests) by up to 0.7 s of TTFT and 1.7 s end to end still leaves SLOW more than 1.2× slower.
    const state = await candidateRun(deps, SLOW, { ...PROFILE, slo: { maxRegressionRatio: 1.2 } });
    const error = await gateFailure(state, deps);

    expect(error.findings.map((f) => f.code)).toEqual([
      "stress.regression.ttftP95Ms",
      "stress.regression.tpotP95Ms",
      "stress.regression.e2eP95Ms",
      "stress.regression.outputTokensPerSecond",
    ]);
    for (const finding of error.findings) {
      expect(finding.path).toBe("gates.stress.slo.maxRegressionRatio");
      expect(finding.message).toContain(`stable ${STABLE}`);
      expect(finding.message).toContain("maxRegressionRatio allows at most 1.2×");
    }
    expect(error.findings[0]?.message).toMatch(/TTFT p95 was [\d.]+× stable v2's \([\d.]+ ms vs [\d.]+ ms\)/);
  });

  it("passes a candidate within maxRegressionRatio and says it was compared", async () => {
    const deps = world();
    await keepStableResult(deps, PROFILE);
    const state = await candidateRun(deps, STEADY, { ...PROFILE, slo: { maxRegressionRatio: 10 } });
    const result = await mergeStress(state, deps);

    expect(result.comparison).toMatchObject({ stableVersion: STABLE, compared: true });
    const regression = result.checks.filter((c) => c.kind === "regression");
    expect(regression.map((c) => [c.name, c.pass])).toEqual([
      ["regression.ttftP95Ms", true],
      ["regression.tpotP95Ms", true],
      ["regression.e2eP95Ms", true],
      ["regression.outputTokensPerSecond", true],
    ]);
    for (const check of regression) expect(check.stable).toBeGreaterThan(0);
    expect(result.summary).toContain("within maxRegressionRatio of stable v2");
  });

  it("says in the gate's summary that it did not compare because maxRegressionRatio is not set", async () => {
    const deps = world();
    await keepStableResult(deps, PROFILE);
    const state = await candidateRun(deps, STEADY, PROFILE);

    const result = await mergeStress(state, deps);

    expect(result.summary).toContain(
      "; not compared with stable v2 (gates.stress.slo.maxRegressionRatio not set)",
    );
  });

  it("skips the comparison, and says why, when stable was measured with another profile or kept nothing", async () => {
    const deps = world();
    await keepStableResult(deps, { concurrency: 4, workers: 2, inputTokens: 32 });
    // Slow enough to fail the regression check, were it made.
    // 1.2, far under SLOW's 15×: a stall on a busy machine that inflates stable's p95 (a max, over a few
    // requests) by up to 0.7 s of TTFT and 1.7 s end to end still leaves SLOW more than 1.2× slower.
    const state = await candidateRun(deps, SLOW, { ...PROFILE, slo: { maxRegressionRatio: 1.2 } });

    const otherProfile = await mergeStress(state, deps);
    expect(otherProfile.comparison?.compared).toBe(false);
    expect(otherProfile.comparison?.notes[0]).toMatch(
      /skipped: stable v2 was measured with a different profile \(concurrency 4 \(now 2\), inputTokens 32 \(now 16\)\)/,
    );
    expect(otherProfile.checks.some((c) => c.kind === "regression")).toBe(false);
    expect(otherProfile.summary).toContain(
      "; not compared with stable v2 (measured with a different profile)",
    );

    await deps.store.saveVersionResults(ROLLOUT.model, STABLE, { rolloutId: "llama-v2-00000000" });
    const keptNothing = await mergeStress(state, deps);
    expect(keptNothing.comparison?.notes[0]).toMatch(/skipped: stable v2 kept no stress result/);
    expect(keptNothing.summary).toContain("; not compared with stable v2 (no usable result of it kept)");

    await deps.store.saveVersionResults(ROLLOUT.model, STABLE, { stress: { profile: "fast" } });
    const unreadable = await mergeStress(state, deps);
    expect(unreadable.comparison?.notes[0]).toMatch(
      /skipped: the stress result stable v2 kept cannot be read/,
    );
  });
});
