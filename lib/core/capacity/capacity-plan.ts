// The capacity plan of a rollout: how many replicas the candidate and the stable run at each canary step, in
// which order replicas and weights change, and the most replicas and GPUs the rollout ever holds at once (what a
// rollback or an early promotion does from wherever the canary stands: ./stepwise-moves.ts). Pure: the EKS adapter and the local runtime both carry
// out the same moves (lib/pipeline's CanaryStep and Rollback), so "a canary never needs twice the GPUs" is
// decided once, here.
//
// - The candidate follows its traffic share (Flagger scales the canary; Argo's dynamicStableScale): at
//   weight w it runs max(1, ceil(stable × w / 100)) replicas, scaled up and ready before the weight moves.
// - `surge` keeps the stable at full size until the promotion: peak = stable + the candidate's full size.
// - `constrained` never runs more than stable + 1 replicas at any moment. Between two steps the candidate
//   grows one replica at a time: the weight first moves as far as the candidate's ready replicas can carry
//   (100/stable percent each), then the stable gives up the one replica that weight freed, then the
//   candidate adds one. Each stable replica is removed only after the weight it served has moved, so the
//   stable always keeps ceil(stable × (100 − w) / 100) replicas for its own share, and at least one (kept
//   warm for a rollback) until the promotion.

import type { CapacityMode } from "../manifest/rollout-settings";

/**
 * One change of a rollout's capacity or route, in the order it must happen. A stage that scales waits for
 * the new replicas to be ready before the next move; scaling down needs no wait.
 */
export type CapacityMove =
  | { readonly kind: "scaleCandidate"; readonly replicas: number }
  | { readonly kind: "scaleStable"; readonly replicas: number }
  | { readonly kind: "setWeight"; readonly weight: number };

/** One canary step of the plan: the counts it ends at and the moves that get there from the step before. */
export interface CapacityStep {
  /** The candidate's weight at the end of the step, in percent. */
  readonly weight: number;
  readonly candidateReplicas: number;
  readonly stableReplicas: number;
  readonly moves: readonly CapacityMove[];
}

export interface CapacityPlanInput {
  /** Replicas the stable serves with before the rollout (its fixed count, or what its autoscaler runs now); ≥ 1. */
  readonly stableReplicas: number;
  /** The canary's weights in order, each in (0, 100], rising (the resolved manifest's rollout.steps). */
  readonly weights: readonly number[];
  readonly mode: CapacityMode;
  /** GPUs one replica of each version holds (its GPU plan's `gpus`; 0 on CPU). @default 0 for both */
  readonly gpusPerReplica?: { readonly stable: number; readonly candidate: number };
}

export interface CapacityPlan {
  readonly mode: CapacityMode;
  readonly stableReplicas: number;
  readonly steps: readonly CapacityStep[];
  /** The most replicas of both versions together at any moment of the canary. */
  readonly peakReplicas: number;
  /** The most GPUs both versions hold together at any moment of the canary. */
  readonly peakGpus: number;
  readonly gpusPerReplica: { readonly stable: number; readonly candidate: number };
}

/** The candidate's replicas at `weight` percent of the traffic of a stable of `stableReplicas`: at least one. */
export function candidateReplicasAt(stableReplicas: number, weight: number): number {
  // stableReplicas × weight is a whole number, so the quotient is exact whenever it is whole.
  return Math.max(1, Math.ceil((stableReplicas * weight) / 100));
}

/** The replicas the stable needs for the `100 − weight` percent it still serves (0 at weight 100). */
export function stableReplicasNeededAt(stableReplicas: number, weight: number): number {
  return Math.max(0, Math.ceil((stableReplicas * (100 - weight)) / 100));
}

/** The plan of a canary over `weights` (see the file's head for the two modes). */
export function planCapacity(input: CapacityPlanInput): CapacityPlan {
  const { stableReplicas: fleet, weights, mode } = input;
  checkPlanInput(input);
  const gpusPerReplica = input.gpusPerReplica ?? { stable: 0, candidate: 0 };
  let candidate = 0;
  let stable = fleet;
  let weight = 0;
  const steps: CapacityStep[] = [];
  for (const target of weights) {
    const goal = candidateReplicasAt(fleet, target);
    const moves: CapacityMove[] = [];
    if (mode === "surge") {
      if (goal > candidate) moves.push({ kind: "scaleCandidate", replicas: goal });
      candidate = Math.max(candidate, goal);
    } else {
      while (candidate < goal) {
        if (candidate > 0 && stable + candidate > fleet) {
          // The weight the candidate's ready replicas carry frees one stable replica, which goes first. Weights
          // are whole percents: where 100 / fleet is not one, the candidate carries the rounding (under one
          // percent of the traffic), so the stable keeps what its own share needs and the cap holds.
          const carried = Math.min(target, Math.ceil((candidate * 100) / fleet));
          if (carried > weight) {
            moves.push({ kind: "setWeight", weight: carried });
            weight = carried;
          }
          stable = fleet - candidate;
          moves.push({ kind: "scaleStable", replicas: stable });
        }
        candidate += 1;
        moves.push({ kind: "scaleCandidate", replicas: candidate });
      }
    }
    if (target > weight) moves.push({ kind: "setWeight", weight: target });
    weight = target;
    steps.push({ weight: target, candidateReplicas: candidate, stableReplicas: stable, moves });
  }
  const peak = peakOf(fleet, steps, gpusPerReplica);
  return { mode, stableReplicas: fleet, steps, ...peak, gpusPerReplica };
}

/** `4 + 1 replicas at most (constrained), 10 GPUs` — for DeployCandidate's output, status and the report. */
export function describeCapacityPlan(plan: CapacityPlan): string {
  const over = plan.peakReplicas - plan.stableReplicas;
  const gpus = plan.peakGpus > 0 ? `, ${plan.peakGpus} GPU${plan.peakGpus === 1 ? "" : "s"}` : "";
  return `${plan.mode}: at most ${plan.stableReplicas} + ${over} replica${over === 1 ? "" : "s"} at once${gpus}`;
}

function peakOf(
  fleet: number,
  steps: readonly CapacityStep[],
  gpus: { readonly stable: number; readonly candidate: number },
): { peakReplicas: number; peakGpus: number } {
  let candidate = 0;
  let stable = fleet;
  let peakReplicas = fleet;
  let peakGpus = fleet * gpus.stable;
  for (const move of steps.flatMap((step) => step.moves)) {
    if (move.kind === "scaleCandidate") candidate = move.replicas;
    if (move.kind === "scaleStable") stable = move.replicas;
    peakReplicas = Math.max(peakReplicas, candidate + stable);
    peakGpus = Math.max(peakGpus, candidate * gpus.candidate + stable * gpus.stable);
  }
  return { peakReplicas, peakGpus };
}

/** The plan's input comes from the resolved manifest and the cluster; a wrong one is a modelship bug. */
function checkPlanInput(input: CapacityPlanInput): void {
  const problems: string[] = [];
  if (!Number.isInteger(input.stableReplicas) || input.stableReplicas < 1) {
    problems.push(`stableReplicas must be a whole number ≥ 1, found ${input.stableReplicas}`);
  }
  input.weights.forEach((weight, i) => {
    const previous = i === 0 ? 0 : (input.weights[i - 1] ?? 0);
    if (!(weight > previous && weight <= 100)) {
      problems.push(`weights[${i}] must rise above ${previous} and be at most 100, found ${weight}`);
    }
  });
  const gpus = input.gpusPerReplica;
  if (gpus && [gpus.stable, gpus.candidate].some((n) => !Number.isInteger(n) || n < 0)) {
    problems.push(`gpusPerReplica must be whole numbers ≥ 0, found ${JSON.stringify(gpus)}`);
  }
  if (problems.length > 0)
    throw new RangeError(`Cannot plan the rollout's capacity: ${problems.join("; ")}.`);
}
