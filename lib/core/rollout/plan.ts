// The rollout plan Prepare decides once and the state machine follows: which gates run, how the stress
// test and the eval suites fan out, the canary steps (none for a first release), how long the rollout may wait
// for capacity before it deploys, and how long a candidate may take to start.

import { capacityPollSeconds } from "../capacity/capacity-wait";
import type { StackConfig } from "../config/config";
import { type CheckedSuiteFile, planEvalShards, suitesToRun } from "../eval/eval-plan";
import { hooksByPoint } from "../gates/hooks";
import type { ResolvedManifest } from "../manifest/manifest-schema";
import type { ModelRecord, RolloutPlan, StressPromptSet } from "./rollout";

const GiB = 1024 ** 3;
/**
 * Stays well inside Step Functions' 25,000 history events per execution: a readiness poll costs about five
 * (Wait, Pass, Task, Choice). A budget that needs more checks polls less often instead.
 */
const MAX_READINESS_CHECKS = 4000;

/**
 * The plan for rolling `manifest` out, given what the rollout store says serves the model now. Readiness is
 * polled every `serving.readinessPollSeconds` within a startup budget of `serving.startupBaseSeconds` plus
 * `serving.startupSecondsPerGiB` per GiB of `weightBytes` (all of them must be read before the server is ready).
 * `suiteFiles` are the manifest's eval suite files as Prepare read them (the built-in suite needs none), and
 * `stressPrompts` the stress test's prompt set, when the manifest names one.
 */
export function planRollout(
  manifest: ResolvedManifest,
  record: ModelRecord | undefined,
  config: Pick<StackConfig, "serving" | "evalShardSize" | "defaults">,
  weightBytes = 0,
  suiteFiles: readonly CheckedSuiteFile[] = [],
  stressPrompts?: StressPromptSet,
): RolloutPlan {
  const stableVersion = record?.stableVersion;
  const hasStable = stableVersion !== undefined;
  const { smoke, stress, eval: evaluation } = manifest.gates;
  const { readinessPollSeconds, startupBaseSeconds, startupSecondsPerGiB } = config.serving;
  const startupSeconds = Math.ceil(
    startupBaseSeconds + startupSecondsPerGiB * (Math.max(0, weightBytes) / GiB),
  );
  const pollSeconds = Math.max(1, readinessPollSeconds, Math.ceil(startupSeconds / MAX_READINESS_CHECKS));
  return {
    hasStable,
    ...(hasStable ? { stableVersion } : {}),
    gates: { smoke: smoke.enabled, stress: stress.enabled, eval: evaluation.enabled },
    stressWorkers: stress.enabled
      ? Array.from({ length: stress.workers }, (_, index) => ({ index, of: stress.workers }))
      : [],
    stressPrompts: stress.enabled ? checkedPromptSet(stress.prompts, stressPrompts) : null,
    evalShards: planEvalShards(
      suitesToRun(evaluation, config.defaults.evalSuite),
      suiteFiles,
      config.evalShardSize,
      evaluation.maxTokens,
    ),
    strategy: manifest.rollout.strategy,
    ...(manifest.rollout.stickiness && { stickiness: manifest.rollout.stickiness }),
    canarySteps: hasStable
      ? manifest.rollout.steps.map(({ weight, bakeSeconds }) => ({ weight, bakeSeconds }))
      : [],
    watchSeconds: manifest.rollout.watchSeconds,
    approval: {
      wait: manifest.rollout.approval.mode === "manual" ? manifest.rollout.approval.at : "never",
      timeoutSeconds: manifest.rollout.approval.timeoutSeconds,
    },
    maxReadinessChecks: Math.max(1, Math.ceil(startupSeconds / pollSeconds)),
    readinessPollSeconds: pollSeconds,
    capacityWaitSeconds: manifest.rollout.capacityWaitSeconds,
    capacityPollSeconds: capacityPollSeconds(manifest.rollout.capacityWaitSeconds, readinessPollSeconds),
    hooks: hooksByPoint(manifest.gates.hooks),
    ...shadowPlan(manifest, hasStable),
  };
}

/**
 * The manifest's shadow when there is a stable whose requests can be mirrored; a first release skips it and
 * the plan says why (the same manifest serves the versions after it, so refusing it would be no help).
 */
function shadowPlan(
  manifest: ResolvedManifest,
  hasStable: boolean,
): Pick<RolloutPlan, "shadow" | "shadowSkipped"> {
  const { shadow } = manifest.rollout;
  if (!shadow) return {};
  if (!hasStable) return { shadowSkipped: shadowSkippedOnFirstRelease(manifest.name, manifest.version) };
  return { shadow: { percent: shadow.percent, seconds: shadow.seconds } };
}

/** The prompt set the manifest names, which must be the one Prepare read; null when it names none. */
function checkedPromptSet(
  name: string | undefined,
  checked: StressPromptSet | undefined,
): StressPromptSet | null {
  if (name === undefined) return null;
  if (checked?.name !== name) {
    throw new Error(
      `The stress prompt set '${name}' cannot be planned before its file prompts/${name}.jsonl is read and checked.`,
    );
  }
  return checked;
}

/** Why a first release has no shadow, as Prepare's plan and the "Rollout Started" event say it. */
function shadowSkippedOnFirstRelease(model: string, version: string): string {
  return `The shadow (rollout.shadow) is skipped: ${version} is the first release of ${model}, so there is no stable version whose requests could be mirrored to it. The shadow runs from the next version on.`;
}
