// The canary's capacity as CanaryStep carries it out (core/capacity/capacity-plan): the numbers recorded once, before
// anything is scaled — the mode and the stable's size — so a retried step and a rollback see the same ones;
// then one step's moves in the plan's order: the candidate scaled up and READY before the weight it is to
// carry moves, and, in `constrained`, a stable replica given up only after the weight it served has moved.
//
// A move is skipped when the world is already past it (the candidate runs at least, the stable at most, the
// replicas it names; the record holds at least the weight), so a step called again — by the state machine's
// readiness loop, or a retry — picks up where it stopped and never moves a weight back. A candidate not ready
// yet is not waited for here: the step answers what it waits for, and the state machine polls it again.
//
// Its transitions are recorded under their own stage name, `CanaryScaling`: the report counts CanaryStep's
// transitions as the canary's steps. The capacity itself is recorded with the step's first write, which always
// comes before the stable gives up a replica.

import { type CapacityStep, planCapacity } from "../core/capacity/capacity-plan";
import type { ResolvedManifest } from "../core/manifest/manifest-schema";
import type {
  CapacityRecord,
  ModelRecord,
  RolloutIdentity,
  RolloutPlan,
  ServingVersion,
} from "../core/rollout/rollout";
import { appliedCanarySteps, type CanaryWeights, canaryWeights } from "../core/traffic/canary-policy";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { FENCE_USES, type RolloutFence } from "./rollout-fence";
import { ROUTE_UNDO_USES, routeUndo, SCALE_UNDO_USES, scaleUndo } from "./stage-undos";
import { runningTransition } from "./running-transition";

export const CANARY_CAPACITY_USES = combinedUse(
  FENCE_USES,
  ROUTE_UNDO_USES,
  SCALE_UNDO_USES,
  portUse({ serving: ["scale", "replicas"], gateway: ["setWeights"], clock: ["now"] }),
);

type CapacityDeps = DepsUsing<typeof CANARY_CAPACITY_USES>;

/** The stage name of the capacity's transitions (not a step of the canary's: see the file's head). */
export const CANARY_SCALING_STAGE = "CanaryScaling";

/** The rollout, its manifest and plan, the two versions, and the fence the step's changes go through. */
export interface CanaryContext {
  readonly rollout: RolloutIdentity;
  readonly manifest: ResolvedManifest;
  readonly plan: RolloutPlan;
  readonly stable: ServingVersion;
  readonly candidate: ServingVersion;
  readonly fence: RolloutFence;
}

/** The candidate's new replicas a step waits for before its weight moves. */
export interface ReplicasPending {
  readonly replicas: number;
  readonly ready: number;
  /** `v2 has 1 of 2 replicas ready; it takes 50% once both are`. */
  readonly reason: string;
}

/**
 * The capacity the record holds for this rollout, or — on the first step, before the canary changed any
 * replicas — the one to record: the manifest's mode and the stable's desired replicas now. `unrecorded` says
 * it still has to be written; the step's first write carries it, always before the stable is scaled down.
 */
export async function canaryCapacity(
  record: ModelRecord,
  context: CanaryContext,
  deps: Pick<CapacityDeps, "serving">,
): Promise<{ capacity: CapacityRecord; unrecorded: boolean }> {
  const { rollout, manifest, stable } = context;
  if (record.capacity?.rolloutId === rollout.id) return { capacity: record.capacity, unrecorded: false };
  const stableReplicas = Math.max(1, (await deps.serving.replicas(stable.handle)).desired);
  const capacity: CapacityRecord = {
    rolloutId: rollout.id,
    // A manifest resolved before capacity modes existed ran its canaries in surge.
    mode: manifest.rollout.capacity ?? "surge",
    stableVersion: stable.version,
    stableReplicas,
  };
  return { capacity, unrecorded: true };
}

/**
 * The capacity plan's step for the plan's canary step `step` (1-based). The plan is made over the steps the
 * canary applies (appliedCanarySteps, as nextCanaryStep walks them).
 */
export function capacityStep(capacity: CapacityRecord, plan: RolloutPlan, step: number): CapacityStep {
  const applied = appliedCanarySteps(plan);
  const position = applied.findIndex((s) => s.step === step);
  const planned = capacityPlan(capacity, applied).steps[position];
  if (!planned) throw new Error(`The canary's capacity plan has no step ${step}.`);
  return planned;
}

/**
 * Carries out the step's moves up to (not including) its final weight, which CanaryStep records and sets
 * itself; answers what the step still waits for, or undefined when the candidate is ready to take it. The
 * capacity, while `unrecorded`, goes with the first write (and `unrecorded` is cleared).
 */
export async function scaleForStep(
  step: CapacityStep,
  record: ModelRecord,
  context: CanaryContext,
  capacity: { readonly capacity: CapacityRecord; unrecorded: boolean },
  deps: CapacityDeps,
): Promise<ReplicasPending | undefined> {
  const { rollout, stable, candidate, fence, plan } = context;
  const { stableReplicas } = capacity.capacity;
  const write = (reason: string, weights?: { stable: number; candidate: number }) =>
    recordScaling(context, capacity, deps, reason, weights && { weights });
  let recordedWeight = record.weights?.candidate ?? 0;
  for (const move of step.moves) {
    if (move.kind === "scaleCandidate") {
      let count = await deps.serving.replicas(candidate.handle);
      if (count.desired < move.replicas) {
        await write(
          `Scaling ${rollout.model} ${candidate.version} to ${plural(move.replicas, "replica")} before it takes ${step.weight}% of traffic.`,
        );
        // No undo: a rollback removes the candidate's workload, whatever its size.
        await fence.act(() => deps.serving.scale(candidate.handle, move.replicas));
        count = await deps.serving.replicas(candidate.handle);
      }
      if (count.ready < move.replicas) {
        return {
          replicas: move.replicas,
          ready: count.ready,
          reason: `${candidate.version} has ${count.ready} of ${plural(move.replicas, "replica")} ready; it takes ${step.weight}% of traffic once ${move.replicas === 1 ? "it is" : "they are"}.`,
        };
      }
    } else if (move.kind === "scaleStable") {
      const count = await deps.serving.replicas(stable.handle);
      if (count.desired > move.replicas) {
        await write(
          `${rollout.model} ${stable.version} gives up ${plural(count.desired - move.replicas, "replica")} (${move.replicas} left of ${stableReplicas}): the traffic they served has moved to ${candidate.version} (rollout.capacity: constrained).`,
        );
        await fence.act(
          () => deps.serving.scale(stable.handle, move.replicas),
          scaleUndo(deps.serving, stable, stableReplicas),
        );
      }
    } else if (move.weight < step.weight && move.weight >= recordedWeight) {
      // A weight on the way to the step's: the candidate's ready replicas carry it, so the stable can give up
      // the replica that served it. Recorded first, like every weight; set again by a call that finds it recorded.
      const weights = canaryWeights(plan, move.weight);
      if (move.weight > recordedWeight) {
        await write(
          `${rollout.model} ${candidate.version} takes ${move.weight}% of traffic on its way to ${step.weight}%: its ready replicas carry it, so ${stable.version} can give up a replica.`,
          weights,
        );
        recordedWeight = move.weight;
      }
      // The route, not the record, says whether a look before this one set it already.
      const onRoute = (await deps.gateway.describe(rollout.model))?.backends.find(
        (b) => b.version === candidate.version,
      );
      if ((onRoute?.weight ?? 0) < move.weight) {
        await fence.act(
          () => deps.gateway.setWeights(rollout.model, weights, context.manifest.rollout.stickiness),
          routeUndo(deps.gateway, rollout.model, rollout.version, stable.version),
        );
      }
    }
  }
  return undefined;
}

/**
 * Records a CanaryScaling transition (with the weights it sets, if any, on the transition and the record);
 * the capacity, while `unrecorded`, goes with it (and `unrecorded` is cleared).
 */
export async function recordScaling(
  context: Pick<CanaryContext, "rollout" | "fence">,
  capacity: { readonly capacity: CapacityRecord; unrecorded: boolean },
  deps: Pick<CapacityDeps, "clock">,
  reason: string,
  changes: { readonly weights?: CanaryWeights; readonly alarmNames?: readonly string[] } = {},
): Promise<void> {
  const { weights } = changes;
  await context.fence.record(
    {
      ...runningTransition(context.rollout, CANARY_SCALING_STAGE, reason, deps.clock),
      ...(weights && { weights }),
    },
    { ...changes, ...(capacity.unrecorded && { capacity: capacity.capacity }) },
  );
  capacity.unrecorded = false;
}

function capacityPlan(capacity: CapacityRecord, steps: readonly { readonly weight: number }[]) {
  return planCapacity({
    stableReplicas: capacity.stableReplicas,
    weights: steps.map((step) => step.weight),
    mode: capacity.mode,
  });
}

/** `1 replica`, `3 replicas`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
