// A model's world for the canary stages, all in memory: the rollout store, the gateway, the registry, the
// alarms, the metrics, serving and events, on a clock the test moves. `rolloutThroughGates` brings a version
// to RegisterGateway the way the pipeline does — the real Prepare takes the lock and plans, the real
// DeployCandidate deploys — with a validation and smoke result as those stages return them; the
// `CANARY_FLOW` functions run each Task with the ResultPath statemachines/pipeline.asl.json gives it.

import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import { executionName } from "../../lib/core/rollout/keys";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { canaryStep } from "../../lib/pipeline/canary-step";
import { checkCanary } from "../../lib/pipeline/check-canary";
import { deployCandidate } from "../../lib/pipeline/deploy-candidate";
import type { StageDeps } from "../../lib/pipeline/deps";
import { finalize } from "../../lib/pipeline/finalize";
import { prepare } from "../../lib/pipeline/prepare";
import { promote } from "../../lib/pipeline/promote";
import { registerGateway } from "../../lib/pipeline/register-gateway";
import { stateMachineRollback } from "../../lib/pipeline/rollback";
import type { Endpoint } from "../../lib/ports";
import type { CandidateHandle } from "../../lib/ports";
import { FixedClock } from "./fixed-clock";
import { MemoryAlarms } from "./memory-alarms";
import { MemoryEvents } from "./memory-events";
import { MemoryGateway } from "./memory-gateway";
import { MemoryHooks } from "./memory-hooks";
import { MemoryMetrics } from "./memory-metrics";
import { MemoryObjectStore } from "./memory-object-store";
import { MemoryRegistry } from "./memory-registry";
import { MemoryRolloutStore } from "./memory-rollout-store";
import { MemoryServing } from "./memory-serving";
import { RecordingExecutions } from "./recording-executions";
import { validationSummary } from "./rollout-state";

export interface CanaryWorld extends StageDeps {
  readonly clock: FixedClock;
  readonly objects: MemoryObjectStore;
  readonly store: MemoryRolloutStore;
  readonly events: MemoryEvents;
  readonly serving: MemoryServing;
  readonly gateway: MemoryGateway;
  readonly registry: MemoryRegistry;
  readonly alarms: MemoryAlarms;
  readonly metrics: MemoryMetrics;
  readonly hooks: MemoryHooks;
}

export const MODEL = "llama";

/** Three steps, the last to 100%, short bakes and a watch: a manifest stress and eval gates do not slow. */
const CANARY_MANIFEST = `
gates:
  stress: {enabled: false}
  eval: {enabled: false}
rollout:
  steps: [10, 50, {weight: 100, bakeSeconds: 30}]
  bakeSeconds: 60
  watchSeconds: 300
`;

export function canaryWorld(
  options: { config?: StackConfig; endpointFor?: (handle: CandidateHandle) => Endpoint } = {},
): CanaryWorld {
  const clock = new FixedClock("2025-06-01T12:00:00.000Z");
  return {
    config: options.config ?? DEFAULT_STACK_CONFIG,
    clock,
    objects: new MemoryObjectStore(),
    store: new MemoryRolloutStore(),
    events: new MemoryEvents(),
    executions: new RecordingExecutions(),
    serving: new MemoryServing(clock, options.endpointFor),
    gateway: new MemoryGateway(),
    registry: new MemoryRegistry(),
    alarms: new MemoryAlarms(),
    metrics: new MemoryMetrics(),
    hooks: new MemoryHooks(),
  };
}

/**
 * The state RegisterGateway gets for a rollout of `version`: uploaded (manifest last), prepared (lock, record,
 * plan), validated, deployed and smoke-tested. `upload` tells two uploads of the same version apart.
 */
export async function rolloutThroughGates(
  world: CanaryWorld,
  version: string,
  manifest = CANARY_MANIFEST,
  upload = "etag-1",
): Promise<ExecutionState> {
  const prefix = `models/${MODEL}/${version}/`;
  const key = `${prefix}modelship.yaml`;
  world.objects.addFiles(prefix, new Map([["model.gguf", new Uint8Array(1024)]]));
  await world.objects.put(key, manifest);
  const id = executionName(MODEL, version, `${key}#${upload}`);
  const input = {
    rollout: {
      id,
      model: MODEL,
      version,
      executionId: world.executions.idFor(id),
      // The manifest's ETag as the upload's event carries it: Prepare reads that object and no other.
      source: {
        bucket: world.objects.bucket,
        key,
        prefix,
        etag: world.objects.versionOf(key)?.etag ?? upload,
      },
    },
  };
  const prepared = await prepare(input, world);
  const validation = validationSummary({
    format: "gguf",
    reportKey: `reports/${MODEL}/${version}/${id}/validation.json`,
  });
  const deployed: ExecutionState = { ...input, ...prepared, validation };
  const handle = await deployCandidate(deployed, world);
  world.serving.setStatus(handle.id, { phase: "ready", readySeconds: 12 });
  return {
    ...deployed,
    candidate: { handle, readinessChecks: 2, readiness: { phase: "ready", readySeconds: 12 } },
    smoke: {
      servedName: MODEL,
      verdicts: [
        { request: "GET /v1/models", problems: [] },
        { request: "chat", problems: [] },
      ],
      ttftMs: 41.5,
      tokensPerSecond: 88,
      testedAt: world.clock.now().toISOString(),
    },
  };
}

type Stage = (state: ExecutionState, deps: StageDeps) => Promise<ExecutionState>;

type CanaryTask =
  "registerGateway" | "canaryStep" | "checkCanary" | "promote" | "checkWatch" | "finalize" | "rollback";

/** Each Task of the canary with its ResultPath, as the ASL runs it. */
export const CANARY_FLOW: Readonly<Record<CanaryTask, Stage>> = {
  registerGateway: async (state, deps) => ({
    ...state,
    gateway: { ...(await registerGateway(state, deps)) },
  }),
  canaryStep: async (state, deps) => ({ ...state, canary: { ...(await canaryStep(state, deps)) } }),
  checkCanary: async (state, deps) => ({
    ...state,
    canary: { ...state.canary, check: await checkCanary(state, deps) },
  }),
  promote: async (state, deps) => ({ ...state, outcome: { ...(await promote(state, deps)) } }),
  checkWatch: async (state, deps) => ({
    ...state,
    outcome: { ...state.outcome, watch: await checkCanary(state, deps) },
  }),
  finalize: async (state, deps) => ({ ...state, outcome: { ...(await finalize(state, deps)) } }),
  rollback: async (state, deps) => ({ ...state, outcome: { ...(await stateMachineRollback(state, deps)) } }),
};

/** The CanaryVerdict Choice: where the state machine goes after CheckCanary. */
export function canaryVerdict(state: ExecutionState): "Rollback" | "Promote" | "CanaryStep" {
  const canary = state.canary as {
    step: number;
    steps: number;
    check: { rollback: boolean; promote: boolean };
  };
  if (canary.check.rollback) return "Rollback";
  if (canary.check.promote || canary.step >= canary.steps) return "Promote";
  return "CanaryStep";
}
