import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import type { ChatMessage } from "../../lib/core/manifest/manifest-schema";
import { ManifestInvalid } from "../../lib/core/errors";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { mergeStress, type StressGateResult } from "../../lib/pipeline/merge-stress";
import { prepare } from "../../lib/pipeline/prepare";
import { stressWorker } from "../../lib/pipeline/stress-worker";
import { type Reply, StreamingServer } from "../loadgen/streaming-server";
import { FixedClock } from "../support/fixed-clock";
import { MemoryEvents } from "../support/memory-events";
import { MemoryObjectStore } from "../support/memory-object-store";
import { MemoryRolloutStore } from "../support/memory-rollout-store";
import { MemoryServing } from "../support/memory-serving";
import { ROLLOUT } from "../support/rollout-state";
import { FAST, SLOW, STEADY, STRESS_HANDLE } from "../support/stress-candidate";

const REPORTS = `reports/${ROLLOUT.model}/${ROLLOUT.version}/${ROLLOUT.id}`;
const SET_KEY = "prompts/chat-sample.jsonl";
const STABLE = "v2";

/** The prompts of the set as the server must receive them; a line with `prompt` arrives as one user message. */
const SET_PROMPTS: readonly ChatMessage[][] = [
  [
    { role: "system", content: "You are a support agent." },
    { role: "user", content: "My order 1234 has not arrived." },
  ],
  [{ role: "user", content: "Translate 'load balancer' into French." }],
  [{ role: "user", content: "List three prime numbers." }],
];
const SET_FILE = [
  JSON.stringify({ messages: SET_PROMPTS[0] }),
  JSON.stringify({ prompt: "Translate 'load balancer' into French." }),
  JSON.stringify({ messages: SET_PROMPTS[2], id: "primes" }),
].join("\n");

/** A one-second test on two workers, on the prompt set unless `stress` says otherwise. JSON is YAML. */
function manifest(stress: Record<string, unknown> = {}): string {
  const test = {
    concurrency: 2,
    workers: 2,
    durationSeconds: 1,
    warmupSeconds: 0,
    outputTokens: 4,
    prompts: "chat-sample",
    ...stress,
  };
  return `gates: {stress: ${JSON.stringify(test)}, eval: {enabled: false}}`;
}

const servers: StreamingServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

function world() {
  const clock = new FixedClock("2025-06-01T12:00:00.000Z");
  let baseUrl = "http://127.0.0.1:9";
  const deps = {
    clock,
    config: DEFAULT_STACK_CONFIG,
    objects: new MemoryObjectStore(),
    serving: new MemoryServing(clock, (handle) => ({ baseUrl, headers: {}, servedName: handle.servedName })),
    store: new MemoryRolloutStore(),
    events: new MemoryEvents(),
  };
  /** Points the candidate's endpoint at a new test server answering every request with `reply`. */
  const serve = async (reply: Reply): Promise<StreamingServer> => {
    const server = await StreamingServer.start(() => reply);
    servers.push(server);
    baseUrl = server.baseUrl;
    return server;
  };
  return { deps, serve };
}

type World = ReturnType<typeof world>;

/** The state the StressTest Map gets: the manifest and plan from the real Prepare, and a deployed candidate. */
async function preparedState({ deps }: World, yaml: string): Promise<ExecutionState> {
  await deps.objects.put(`${ROLLOUT.source.prefix}modelship.yaml`, yaml);
  const { manifest: resolved, plan } = await prepare({ rollout: ROLLOUT }, deps);
  return {
    rollout: ROLLOUT,
    manifest: resolved,
    plan,
    candidate: { handle: STRESS_HANDLE, readinessChecks: 1 },
  };
}

/** The StressTest Map as the ASL builds its items: every worker at once, with `$.plan.stressPrompts`. */
async function runStressMap({ deps }: World, state: ExecutionState): Promise<ExecutionState> {
  const workers = await Promise.all(
    state.plan!.stressWorkers.map((worker) => stressWorker(workerInput(state, worker.index), deps)),
  );
  return { ...state, stress: { workers } };
}

function workerInput(state: ExecutionState, index: number) {
  const plan = state.plan!;
  return {
    rollout: state.rollout,
    candidate: STRESS_HANDLE,
    gate: state.manifest!.gates.stress,
    prompts: plan.stressPrompts,
    worker: { index, of: plan.stressWorkers.length },
  };
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

describe("StressWorker on a prompt set from the bucket", () => {
  it("sends the prompts of the file Prepare checked, chat and plain prompts alike, and nothing synthetic", async () => {
    const w = world();
    await w.deps.objects.put(SET_KEY, SET_FILE);
    const server = await w.serve(FAST);
    const state = await preparedState(w, manifest());

    const ran = await runStressMap(w, state);

    const sent = server.bodies.map((body) => body["messages"]);
    expect(sent.length).toBeGreaterThan(10);
    for (const messages of sent) expect(SET_PROMPTS).toContainEqual(messages);
    expect(new Set(sent.map((m) => JSON.stringify(m))).size).toBe(SET_PROMPTS.length);
    expect(server.bodies.every((body) => body["max_tokens"] === 4)).toBe(true);
    const workers = ran.stress!["workers"] as { requests: number }[];
    expect(workers.reduce((sum, w) => sum + w.requests, 0)).toBe(server.bodies.length);
  });

  it("fails with ManifestInvalid, sending nothing, when the file changed after Prepare checked it", async () => {
    const w = world();
    await w.deps.objects.put(SET_KEY, SET_FILE);
    const server = await w.serve(FAST);
    const state = await preparedState(w, manifest());
    const edited = `${SET_FILE}\n${JSON.stringify({ prompt: "One more." })}`;
    await w.deps.objects.put(SET_KEY, edited);

    const error = await stressWorker(workerInput(state, 1), w.deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ManifestInvalid);
    const invalid = error as ManifestInvalid;
    expect(invalid.reason).toBe(
      `The stress prompt set ${SET_KEY} changed after the rollout started: worker 2 of 2 would not send the file Prepare checked.`,
    );
    expect(invalid.findings).toEqual([
      {
        severity: "error",
        code: "stress-prompts.changed",
        file: SET_KEY,
        path: "gates.stress.prompts",
        message: `has SHA-256 ${sha256(edited)}; Prepare checked the file with SHA-256 ${sha256(SET_FILE)}.`,
      },
    ]);
    expect(invalid.hint).toMatch(
      /upload the manifest again to start a rollout with the prompt set as it is now/,
    );
    expect(server.bodies).toHaveLength(0);
    expect(await w.deps.objects.list(`${REPORTS}/`)).toEqual([]);
  });

  it("names every bad line when the file was replaced by a broken one after Prepare", async () => {
    const w = world();
    await w.deps.objects.put(SET_KEY, SET_FILE);
    const server = await w.serve(FAST);
    const state = await preparedState(w, manifest());
    await w.deps.objects.put(SET_KEY, '{"prompt": "fine"}\n{not json\n[]');

    const error = await stressWorker(workerInput(state, 0), w.deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ManifestInvalid);
    expect((error as ManifestInvalid).findings.map((f) => [f.file, f.path, f.code])).toEqual([
      [SET_KEY, "line 2", "stress-prompts.bad-line"],
      [SET_KEY, "line 3", "stress-prompts.bad-line"],
    ]);
    expect(server.bodies).toHaveLength(0);
  });
});

describe("MergeStress on a prompt set from the bucket", () => {
  /** Stable's stress result, measured under `yaml` and kept with its version the way Promote keeps `$.stress`. */
  async function keepStableResult(w: World, yaml: string): Promise<void> {
    await w.serve(STEADY);
    const result = await mergeStress(await runStressMap(w, await preparedState(w, yaml)), w.deps);
    await w.deps.store.saveVersionResults(ROLLOUT.model, STABLE, {
      rolloutId: "llama-v2-00000000",
      stress: JSON.parse(JSON.stringify(result)) as unknown,
    });
    await w.deps.store.record(
      ROLLOUT.model,
      {
        at: "2025-05-01T00:00:00.000Z",
        rolloutId: "llama-v2-00000000",
        version: STABLE,
        stage: "Promote",
        status: "promoted",
        reason: "v2 serves 100%.",
      },
      { stableVersion: STABLE, status: "promoted" },
    );
  }

  async function candidateResult(w: World, reply: Reply, yaml: string): Promise<StressGateResult> {
    await w.serve(reply);
    return mergeStress(await runStressMap(w, await preparedState(w, yaml)), w.deps);
  }

  it("records the prompt set and its file's hash in the profile, in place of inputTokens", async () => {
    const w = world();
    await w.deps.objects.put(SET_KEY, SET_FILE);

    const result = await candidateResult(w, FAST, manifest());

    expect(result.profile).toEqual({
      mode: "concurrency",
      concurrency: 2,
      prompts: { name: "chat-sample", sha256: sha256(SET_FILE) },
      outputTokens: 4,
    });
    const profile = `concurrency 2, prompt set chat-sample (sha256 ${sha256(SET_FILE).slice(0, 12)}…) → 4 tokens`;
    expect(result.summary).toContain(`at ${profile}:`);
    expect(w.deps.objects.text(result.pageKey)).toContain(profile);
  });

  it("compares with stable when stable was measured on the same prompt set file", async () => {
    const w = world();
    await w.deps.objects.put(SET_KEY, SET_FILE);
    await keepStableResult(w, manifest());

    const result = await candidateResult(w, STEADY, manifest({ slo: { maxRegressionRatio: 10 } }));

    expect(result.comparison).toMatchObject({ stableVersion: STABLE, compared: true });
    expect(result.checks.filter((c) => c.kind === "regression")).toHaveLength(4);
  });

  it("skips the regression check, saying why, when stable was measured on synthetic prompts", async () => {
    const w = world();
    await w.deps.objects.put(SET_KEY, SET_FILE);
    await keepStableResult(w, manifest({ prompts: undefined, inputTokens: 16 }));

    // Slow enough to fail the regression check, were it made.
    const result = await candidateResult(w, SLOW, manifest({ slo: { maxRegressionRatio: 1.5 } }));

    expect(result.comparison?.compared).toBe(false);
    expect(result.comparison?.notes).toEqual([
      `The regression check was skipped: stable ${STABLE} was measured with a different profile (inputTokens 16 (now unset), prompts unset (now chat-sample (sha256 ${sha256(SET_FILE).slice(0, 12)}…))), so its numbers are not comparable.`,
    ]);
    expect(result.checks.some((c) => c.kind === "regression")).toBe(false);
  });

  it("skips the regression check, saying why, when stable was measured on another version of the set's file", async () => {
    const w = world();
    const before = `${SET_FILE}\n${JSON.stringify({ prompt: "An older prompt." })}`;
    await w.deps.objects.put(SET_KEY, before);
    await keepStableResult(w, manifest());
    await w.deps.objects.put(SET_KEY, SET_FILE);

    const result = await candidateResult(w, SLOW, manifest({ slo: { maxRegressionRatio: 1.5 } }));

    expect(result.comparison?.compared).toBe(false);
    expect(result.comparison?.notes[0]).toContain(
      `(prompts chat-sample (sha256 ${sha256(before).slice(0, 12)}…) (now chat-sample (sha256 ${sha256(SET_FILE).slice(0, 12)}…)))`,
    );
    expect(result.checks.some((c) => c.kind === "regression")).toBe(false);
  });
});
