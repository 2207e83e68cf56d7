// The rollout plan Prepare decides once and the state machine follows: which gates run, how the stress
// test fans out, the canary steps (none for a first release), and how long a candidate may take to start.

import type { ResolvedManifest } from "./manifest-schema";
import type { ModelRecord, RolloutPlan } from "./rollout";

/** Seconds between candidate readiness polls (a Wait state each). */
const READINESS_POLL_SECONDS = 15;
/** Image pull, server start and (for vLLM) CUDA graph capture, before the weights' size counts. */
const BASE_STARTUP_SECONDS = 900;
/** A conservative rate at which a server reads weights from the bucket into GPU memory. */
const WEIGHT_LOAD_BYTES_PER_SECOND = 100 * 1024 * 1024;
/** Stays well inside Step Functions' 25,000 history events per execution (a poll costs about five). */
const MAX_STARTUP_SECONDS = 4 * 3600;

/**
 * The plan for rolling `manifest` out, given what the rollout store says serves the model now. The
 * startup budget grows with `weightBytes` (all of them must be read before the server is ready).
 */
export function planRollout(
  manifest: ResolvedManifest,
  record: ModelRecord | undefined,
  weightBytes = 0,
): RolloutPlan {
  const stableVersion = record?.stableVersion;
  const hasStable = stableVersion !== undefined;
  const { smoke, stress, eval: evaluation } = manifest.gates;
  const startupSeconds = Math.min(
    MAX_STARTUP_SECONDS,
    BASE_STARTUP_SECONDS + Math.ceil(Math.max(0, weightBytes) / WEIGHT_LOAD_BYTES_PER_SECOND),
  );
  return {
    hasStable,
    ...(hasStable ? { stableVersion } : {}),
    gates: { smoke: smoke.enabled, stress: stress.enabled, eval: evaluation.enabled },
    stressWorkers: stress.enabled
      ? Array.from({ length: stress.workers }, (_, index) => ({ index, of: stress.workers }))
      : [],
    canarySteps: hasStable
      ? manifest.rollout.steps.map(({ weight, bakeSeconds }) => ({ weight, bakeSeconds }))
      : [],
    watchSeconds: manifest.rollout.watchSeconds,
    maxReadinessChecks: Math.ceil(startupSeconds / READINESS_POLL_SECONDS),
    readinessPollSeconds: READINESS_POLL_SECONDS,
  };
}
