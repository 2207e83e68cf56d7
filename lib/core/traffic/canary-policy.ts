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
 * The plan's canary steps that move traffic, in order: a step that would not send the candidate more than the
 * step before it is skipped, so the first is never 0% and traffic never moves back. A weight is at most 100:
 * the manifest's schema bounds a step to 1-100 and linear's steps end at 100, so the cap only keeps a plan
 * made elsewhere from asking for more than all of the traffic. CanaryStep walks these steps and the capacity
 * plan is made over them, so both skip the same ones.
 */
export function appliedCanarySteps(plan: Pick<RolloutPlan, "canarySteps">): CanaryStepPlan[] {
  const steps = plan.canarySteps.length;
  const applied: CanaryStepPlan[] = [];
  plan.canarySteps.forEach(({ weight, bakeSeconds }, index) => {
    const capped = Math.min(100, weight);
    if (capped > (applied.at(-1)?.weight ?? 0))
      applied.push({ step: index + 1, steps, weight: capped, bakeSeconds });
  });
  return applied;
}

/**
 * The step after `applied` (undefined before the first), or undefined when the canary is done and the
 * candidate is promoted — at once for a first release, which has no canary.
 */
export function nextCanaryStep(
  plan: Pick<RolloutPlan, "hasStable" | "canarySteps">,
  applied?: CanaryPosition,
): CanaryStepPlan | undefined {
  if (!plan.hasStable) return undefined;
  return appliedCanarySteps(plan).find((step) => step.step > (applied?.step ?? 0));
}
