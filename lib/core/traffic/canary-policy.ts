// The canary's arithmetic, pure, for the stages that move traffic: the weights of a step (they add up to
// 100; a first release takes everything at once) and the step that follows the one applied (never a 0%
// first step: some gateways fail a weight-0 dark launch).

import type { CanaryPosition, RolloutPlan } from "../rollout/rollout";

export interface CanaryWeights {
  readonly stable: number;
  readonly candidate: number;
}

/** A canary step as CanaryStep applies it: the position, plus how long the Bake state waits after it. */
export interface CanaryStepPlan extends CanaryPosition {
  readonly bakeSeconds: number;
}

/** Percent to stable and candidate when the candidate takes `candidateWeight`; with no stable, all to it. */
export function canaryWeights(plan: Pick<RolloutPlan, "hasStable">, candidateWeight: number): CanaryWeights {
  if (!plan.hasStable) return { stable: 0, candidate: 100 };
  if (!Number.isFinite(candidateWeight)) {
    throw new RangeError(`A canary weight must be a number from 0 to 100, got ${candidateWeight}.`);
  }
  const candidate = Math.min(100, Math.max(0, candidateWeight));
  // Rounded so 100 − 33.3 reads 66.7, not 66.69999999999999.
  return { stable: Math.round((100 - candidate) * 1e6) / 1e6, candidate };
}

/**
 * The step after `applied` (undefined before the first), or undefined when the canary is done and the
 * candidate is promoted — at once for a first release, which has no canary. A step that would not send the
 * candidate more than it has now is skipped, so the first step is never 0% and traffic never moves back.
 */
export function nextCanaryStep(
  plan: Pick<RolloutPlan, "hasStable" | "canarySteps">,
  applied?: CanaryPosition,
): CanaryStepPlan | undefined {
  if (!plan.hasStable) return undefined;
  const steps = plan.canarySteps.length;
  const current = applied?.weight ?? 0;
  for (let index = applied?.step ?? 0; index < steps; index++) {
    const step = plan.canarySteps[index];
    if (step && step.weight > current) {
      return { step: index + 1, steps, weight: Math.min(100, step.weight), bakeSeconds: step.bakeSeconds };
    }
  }
  return undefined;
}
