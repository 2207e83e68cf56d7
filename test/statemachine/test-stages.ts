// Test stage functions for driving statemachines/pipeline.asl.json through its branches: small functions that
// return the shapes each branch needs (lib/pipeline/flow-state.ts) and record their calls. They stand in for
// stages other issues build; the subject under test is the flow, run by the real local executor.

import { readFile } from "node:fs/promises";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { DEFAULT_SCALING } from "../../lib/core/resolution/manifest-capacity";
import type { ResolvedManifest } from "../../lib/core/manifest/manifest-schema";
import type { PipelineFunction } from "../../lib/core/state-machine/pipeline-functions";
import type { ExecutionInput, ExecutionState, RolloutPlan } from "../../lib/core/rollout/rollout";
import {
  LocalExecutor,
  PIPELINE_DEFINITION,
  type ExecutionResult,
  type StateTransition,
  type TaskContext,
  type TaskHandler,
  type TaskHandlers,
} from "../../lib/local/executor";
import type {
  CanaryCheck,
  CanaryProgress,
  CapacityProgress,
  EvalShardInput,
  RolloutOutcome,
  StressWorkerInput,
} from "../../lib/pipeline/flow-state";
import type { CandidateHandle, CandidateStatus } from "../../lib/ports";
import { LocalTaskTokens } from "../../lib/local/task-tokens";
import type { ApprovalRequest } from "../../lib/pipeline/request-approval";
import type { ShadowInput } from "../../lib/pipeline/shadow";

export const definitionJson = await readFile(PIPELINE_DEFINITION, "utf8");

export function testInput(model = "llama", version = "v2"): ExecutionInput {
  return {
    rollout: {
      id: `${model}-${version}-0badf00d`,
      model,
      version,
      source: {
        bucket: "models-bucket",
        key: `models/${model}/${version}/modelship.yaml`,
        prefix: `models/${model}/${version}/`,
        etag: "etag-1",
      },
    },
  };
}

export function testPlan(overrides: Partial<RolloutPlan> = {}): RolloutPlan {
  return {
    hasStable: true,
    stableVersion: "v1",
    gates: { smoke: true, stress: true, eval: true },
    stressWorkers: [
      { index: 0, of: 3 },
      { index: 1, of: 3 },
      { index: 2, of: 3 },
    ],
    stressPrompts: null,
    evalShards: [
      { suite: SANITY, index: 0, of: 1 },
      { suite: MMLU_PRO_SAMPLE, index: 0, of: 2, sha256: "5e1f" },
      { suite: MMLU_PRO_SAMPLE, index: 1, of: 2, sha256: "5e1f" },
    ],
    canarySteps: [
      { weight: 10, bakeSeconds: 600 },
      { weight: 50, bakeSeconds: 600 },
      { weight: 100, bakeSeconds: 600 },
    ],
    watchSeconds: 1800,
    approval: { wait: "never", timeoutSeconds: 86400 },
    maxReadinessChecks: 5,
    readinessPollSeconds: 15,
    capacityWaitSeconds: 900,
    capacityPollSeconds: 15,
    ...overrides,
  };
}

const SANITY = { name: "sanity", minScore: 0.5, maxRegression: 0.02 };
const MMLU_PRO_SAMPLE = { name: "mmlu-pro-sample", minScore: 0.4, maxRegression: 0.02 };

export function testManifest(model = "llama", version = "v2"): ResolvedManifest {
  const { defaults } = DEFAULT_STACK_CONFIG;
  return {
    name: model,
    version,
    format: "gguf",
    files: [],
    serving: { ...defaults.serving, scaling: DEFAULT_SCALING },
    gates: {
      smoke: defaults.gates.smoke,
      stress: defaults.gates.stress,
      eval: {
        enabled: true,
        suites: [SANITY, MMLU_PRO_SAMPLE],
        maxErrorRate: defaults.gates.eval.maxErrorRate,
      },
      hooks: [],
    },
    rollout: {
      strategy: { kind: "canary" },
      capacity: "surge",
      steps: [],
      bakeSeconds: 600,
      watchSeconds: 1800,
      capacityWaitSeconds: 900,
      alarms: defaults.rollout.alarms,
      approval: defaults.rollout.approval,
    },
  };
}

export const ENOUGH_CAPACITY: CapacityProgress = {
  enough: true,
  since: "2025-01-01T00:00:00.000Z",
  waitedSeconds: 0,
  plan: "1 replica of v2 beside v1",
  reason: "The rollout needs 1 more nvidia.com/gpu; 8 are free.",
  neededGpus: 1,
  freeGpus: 8,
};

/** A DeployCandidate function whose CheckCapacity finds enough, and whose deploy is `deploy`. */
export function onDeploy(deploy: TaskHandler): TaskHandler {
  return (input, context) =>
    (input as { action?: string }).action === "checkCapacity"
      ? Promise.resolve(ENOUGH_CAPACITY)
      : deploy(input, context);
}

const quiet: CanaryCheck = { rollback: false, promote: false, reason: "Every alarm is OK." };

/** Stages that let a rollout through; `overrides` replace any of them. Every call is recorded in `calls`. */
export function testStages(
  plan: RolloutPlan,
  overrides: Partial<Record<PipelineFunction, TaskHandler>> = {},
  taskTokens: LocalTaskTokens = new LocalTaskTokens(),
) {
  const calls: { fn: PipelineFunction; input: unknown }[] = [];
  const passing: TaskHandlers = {
    Prepare: async (input) => {
      const { rollout } = input as ExecutionInput;
      return { manifest: testManifest(rollout.model, rollout.version), plan };
    },
    Validate: async () => ({ valid: true, parameters: 116_000 }),
    // CheckCapacity (action checkCapacity) finds the capacity there; DeployCandidate deploys.
    DeployCandidate: async (input): Promise<CandidateHandle | CapacityProgress> => {
      if ((input as { action?: string }).action === "checkCapacity") return ENOUGH_CAPACITY;
      const { rollout } = input as ExecutionState;
      return {
        id: `candidate-${rollout.id}`,
        model: rollout.model,
        version: rollout.version,
        rolloutId: rollout.id,
        servedName: rollout.model,
        deployedAt: "2025-01-01T00:00:00.000Z",
      };
    },
    CheckCandidate: async (): Promise<CandidateStatus> => ({ phase: "ready", readySeconds: 42 }),
    SmokeTest: async () => ({ passed: true, prompts: 2 }),
    StressWorker: async (input) => ({ worker: (input as StressWorkerInput).worker.index, requests: 100 }),
    MergeStress: async (input) => ({
      passed: true,
      workers: ((input as ExecutionState).stress?.["workers"] as unknown[]).length,
    }),
    EvalShard: async (input) => {
      const { shard } = input as EvalShardInput;
      return { suite: shard.suite.name, shard: `${shard.index + 1}/${shard.of}`, correct: 45 };
    },
    MergeEval: async (input) => ({
      passed: true,
      suites: ((input as ExecutionState).eval?.["shards"] as unknown[]).length,
    }),
    RegisterGateway: async () => ({ route: "llama", weight: 0 }),
    RunHooks: async (input) => ({ at: (input as { at: string }).at, results: [] }),
    // Someone approves as soon as the approval is asked for.
    RequestApproval: async (input) => {
      const { token, at } = input as ApprovalRequest;
      taskTokens.succeed(token, { approvedBy: "a tester", via: "command" });
      return { at, expiresAt: "2025-01-02T00:00:00.000Z" };
    },
    // The shadow passes: started, quiet after its Wait, ended.
    Shadow: async (input) => {
      const { action, state } = input as ShadowInput;
      if (action === "start") {
        const settings = state.plan?.shadow ?? { percent: 0, seconds: 0 };
        return { ...settings, since: "2025-01-01T00:00:00.000Z", stableVersion: "v1" };
      }
      if (action === "check") return { rollback: false, reason: "The shadow passed." };
      return { ended: true };
    },
    CanaryStep: async (input): Promise<CanaryProgress> => {
      const state = input as ExecutionState;
      const step = ((state.canary as CanaryProgress | undefined)?.step ?? 0) + 1;
      const next = plan.canarySteps[step - 1];
      if (!next) throw new Error(`CanaryStep was asked for step ${step} of ${plan.canarySteps.length}.`);
      return { step, steps: plan.canarySteps.length, ...next };
    },
    CheckCanary: async () => quiet,
    Promote: async (): Promise<RolloutOutcome> => ({ reason: "The candidate serves 100%." }),
    Finalize: async (): Promise<RolloutOutcome> => ({ reason: "The old stable version was retired." }),
    Rollback: async (): Promise<RolloutOutcome> => ({
      reason: "The alarm modelship-llama-v2-latency fired.",
    }),
    Cleanup: async (): Promise<RolloutOutcome> => ({ reason: "Candidate removed, lock released." }),
  };
  const handlers = Object.fromEntries(
    (Object.keys(passing) as PipelineFunction[]).map((fn) => {
      const handler = overrides[fn] ?? passing[fn];
      return [
        fn,
        (input: unknown, context: TaskContext) => {
          calls.push({ fn, input });
          return handler(input, context);
        },
      ];
    }),
  ) as unknown as TaskHandlers;
  return { handlers, calls, count: (fn: PipelineFunction) => calls.filter((c) => c.fn === fn).length };
}

export interface Run {
  readonly result: ExecutionResult;
  readonly transitions: readonly StateTransition[];
  /** The top-level states entered, in order (Map iterations left out: they run concurrently). */
  readonly path: readonly string[];
  readonly calls: ReturnType<typeof testStages>["calls"];
  count(fn: PipelineFunction): number;
}

/** Runs the real definition with the test stages, waits scaled to nothing unless `timeFactor` says otherwise. */
export async function runPipeline(
  options: {
    plan?: RolloutPlan;
    stages?: Partial<Record<PipelineFunction, TaskHandler>>;
    timeFactor?: number;
    realTimeWaits?: readonly string[];
    input?: ExecutionInput;
    /** Where approval Tasks wait: a test answers them through it. */
    taskTokens?: LocalTaskTokens;
  } = {},
): Promise<Run> {
  const taskTokens = options.taskTokens ?? new LocalTaskTokens();
  const stages = testStages(options.plan ?? testPlan(), options.stages, taskTokens);
  const executor = new LocalExecutor(definitionJson, {
    handlers: stages.handlers,
    taskTokens,
    timeFactor: options.timeFactor ?? 0,
    ...(options.realTimeWaits && { realTimeWaits: options.realTimeWaits }),
  });
  const input = options.input ?? testInput();
  const transitions: StateTransition[] = [];
  const running = executor.run(input, {
    executionId: `local:${input.rollout.id}`,
    name: input.rollout.id,
    onTransition: (t) => transitions.push(t),
  });
  const result = await running.result;
  return {
    result,
    transitions,
    path: transitions.filter((t) => t.type === "entered" && t.iteration === undefined).map((t) => t.state),
    calls: stages.calls,
    count: stages.count,
  };
}

/** The error the execution failed with; fails the test if it did not fail. */
export function failure(run: Run) {
  if (run.result.status !== "FAILED") {
    throw new Error(
      `Expected the execution to fail; it ended ${run.result.status} after ${run.path.join(" → ")}.`,
    );
  }
  return run.result.error;
}

export const HAPPY_PATH_TO_GATEWAY = [
  "Prepare",
  "Validate",
  "CheckCapacity",
  "IsCapacityThere",
  "DeployCandidate",
  "WaitForCandidate",
  "CountReadinessCheck",
  "CheckCandidate",
  "IsCandidateReady",
  "IsSmokeTestEnabled",
  "SmokeTest",
  "IsStressTestEnabled",
  "StressTest",
  "MergeStress",
  "IsEvalEnabled",
  "Eval",
  "MergeEval",
  "RegisterGateway",
  "HasPreTrafficHooks",
  "IsApprovalBeforeTraffic",
  "HasShadow",
  "HasStableVersion",
];

/** The shadow phase that passes, between HasShadow and HasStableVersion. */
export const SHADOW_PHASE = ["StartShadow", "ShadowBake", "CheckShadow", "ShadowVerdict", "EndShadow"];

export const CANARY_ROUND = [
  "CanaryStep",
  "IsCanaryStepApplied",
  "Bake",
  "CheckCanary",
  "HasStepHooks",
  "CanaryVerdict",
];

export const PROMOTION = [
  "HasPrePromoteHooks",
  "IsApprovalBeforePromote",
  "Promote",
  "HasPostPromoteHooks",
  "Watch",
  "CheckWatch",
  "WatchVerdict",
  "Finalize",
  "Shipped",
];
