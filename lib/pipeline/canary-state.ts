// Reading what the canary stages need from the execution state — `$.plan` and `$.manifest` from Prepare,
// `$.canary` from the previous CanaryStep (lib/pipeline/flow-state.ts) — checked, because the state crossed
// a JSON boundary: a missing key is a broken flow, and the error names the stage and the key.

import type { ResolvedManifest } from "../core/manifest/manifest-schema";
import type { ExecutionState, RolloutPlan } from "../core/rollout/rollout";
import type { CanaryProgress } from "./flow-state";

export function planAndManifest(
  state: ExecutionState,
  stage: string,
): { plan: RolloutPlan; manifest: ResolvedManifest } {
  const { plan, manifest } = state;
  if (!plan || !manifest) {
    throw new Error(
      `${stage} needs $.plan and $.manifest from Prepare; the state has ${plan ? "no manifest" : manifest ? "no plan" : "neither"}.`,
    );
  }
  return { plan, manifest };
}

/** `$.canary` as the previous CanaryStep left it, or undefined before the first step. */
export function previousCanaryStep(state: ExecutionState): CanaryProgress | undefined {
  const canary = state.canary;
  if (canary === undefined) return undefined;
  const { step, steps, weight, bakeSeconds } = canary;
  const numbers = [step, steps, weight, bakeSeconds];
  if (!numbers.every((n) => typeof n === "number" && Number.isFinite(n))) {
    throw new Error(
      `$.canary is not what CanaryStep returns (step, steps, weight, bakeSeconds): ${JSON.stringify(canary).slice(0, 200)}.`,
    );
  }
  return canary as unknown as CanaryProgress;
}
