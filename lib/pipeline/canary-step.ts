// The CanaryStep stage: moves the model's weights to the next step of the plan's canary (the first step is
// never 0%: some gateways fail a weight-0 dark launch), arming the rollout's alarms and prober at the first
// step, before any traffic moves. Capacity first (lib/pipeline/canary-capacity.ts): the candidate is scaled to
// the replicas the step's weight needs and the weight moves only once they are ready — until then the step
// answers `scaling` (its weight not applied) and the state machine polls it again after a Wait, within the
// candidate's startup budget (`plan.maxReadinessChecks`, then CandidateTimeout); in `constrained` the stable
// gives up a replica only after the weight it served has moved. The step is recorded first — its weights, the
// canary position and the alarms' names, with the "Canary Weight Changed" event to announce — conditionally
// on the rollout still owning the model; then the world follows the record, each change fenced
// (lib/pipeline/rollout-fence.ts), so a rollback that acts at any point finds in the record everything it must
// undo, and the stage, having lost the model, undoes its own late changes. Idempotent: a retried step that
// finds itself recorded and announced does nothing; one that finds its event still pending makes the same
// (idempotent) changes again and announces it.

import { canaryWeights, nextCanaryStep } from "../core/traffic/canary-policy";
import { CandidateTimeout } from "../core/errors";
import { describeStickiness } from "../core/traffic/sticky-routing";
import type { CanaryPosition, ExecutionState, ModelRecord, RolloutPlan } from "../core/rollout/rollout";
import {
  CANARY_CAPACITY_USES,
  canaryCapacity,
  capacityStep,
  plural,
  type ReplicasPending,
  recordScaling,
  scaleForStep,
} from "./canary-capacity";
import { ANNOUNCE_USES, announcePending, stageComplete } from "./announce";
import { ARMING_USES, armRolloutWatch, rolloutAlarms } from "./canary-arming";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { planAndManifest, previousCanaryStep } from "./canary-state";
import type { StageDeps } from "./deps";
import { rolloutEvent } from "./events";
import type { CanaryProgress, CanaryScaling } from "./flow-state";
import { FENCE_USES, RolloutFence } from "./rollout-fence";
import { runningTransition } from "./running-transition";
import { ROUTE_UNDO_USES, routeUndo } from "./stage-undos";

/** Moves the weights and records the step; arms the alarms and the prober at the first step. */
export const CANARY_STEP_USES = combinedUse(
  ARMING_USES,
  FENCE_USES,
  ANNOUNCE_USES,
  ROUTE_UNDO_USES,
  CANARY_CAPACITY_USES,
  portUse({
    store: ["get", "record"],
    gateway: ["setWeights"],
    serving: ["replicas"],
    events: ["emit"],
    clock: ["now"],
  }),
);

type CanaryStepDeps = DepsUsing<typeof CANARY_STEP_USES> & Pick<StageDeps, "config">;

const STAGE = "CanaryStep";

export async function canaryStep(state: ExecutionState, deps: CanaryStepDeps): Promise<CanaryProgress> {
  const { rollout } = state;
  const { plan, manifest } = planAndManifest(state, STAGE);
  const fence = new RolloutFence(deps.store, rollout, STAGE);
  const record = await fence.check();
  const { stable, candidate } = canaryVersions(record, rollout.id);

  const applied = previousCanaryStep(state);
  const progress = nextStep(plan, applied);
  const weights = canaryWeights(plan, progress.weight);
  const alarms = rolloutAlarms(rollout, manifest, stable.version, deps);
  const { stickiness } = manifest.rollout;
  const recorded = record.canary?.step === progress.step && record.canary.weight === progress.weight;
  if (recorded && (await stageComplete(deps, record, rollout.id, STAGE))) return progress;
  if (!recorded) {
    const context = { rollout, manifest, plan, stable, candidate, fence };
    const capacity = await canaryCapacity(record, context, deps);
    const moves = capacityStep(capacity.capacity, plan, progress.step);
    if (
      progress.step === 1 &&
      moves.moves.some((m) => m.kind === "setWeight" && m.weight < progress.weight)
    ) {
      // The first step moves traffic on its way (constrained, a stable of several replicas): armed before that.
      if (!record.alarmNames) {
        await recordScaling(
          context,
          capacity,
          deps,
          `Arming ${rollout.model} ${candidate.version}'s alarms and prober: its first step moves traffic on its way to ${progress.weight}%.`,
          { alarmNames: alarms.alarmNames },
        );
      }
      await armRolloutWatch(rollout, alarms, deps, fence);
    }
    const pending = await scaleForStep(moves, await fence.check(), context, capacity, deps);
    if (pending) return scalingProgress(state, plan, progress, applied, pending, deps.clock.now());
    const sticky = stickiness
      ? ` Requests with ${describeStickiness(stickiness)} stay on the version their key is on.`
      : "";
    const replicas = {
      candidate: (await deps.serving.replicas(candidate.handle)).desired,
      stable: (await deps.serving.replicas(stable.handle)).desired,
    };
    const scaled = scalingSeconds(state, progress, deps.clock.now());
    const message = `${rollout.model} ${candidate.version} takes ${progress.weight}% of traffic, ${stable.version} ${weights.stable}% (step ${progress.step} of ${progress.steps}); ${candidate.version} runs ${plural(replicas.candidate, "replica")}, ${stable.version} ${replicas.stable}${scaled === undefined ? "" : ` (${candidate.version}'s new replicas were ready ${scaled} s after the scale)`}; baking ${progress.bakeSeconds} s.${sticky}`;
    const event = rolloutEvent("Canary Weight Changed", rollout, STAGE, message, deps.clock, {
      data: {
        step: progress.step,
        steps: progress.steps,
        weight: progress.weight,
        previousWeight: record.canary?.weight ?? 0,
        weights,
        stableVersion: stable.version,
        bakeSeconds: progress.bakeSeconds,
        replicas,
        ...(stickiness && { stickiness }),
      },
    });
    await fence.record(
      { ...runningTransition(rollout, STAGE, message, deps.clock), weights },
      {
        weights,
        canary: {
          ...(plan.strategy?.kind === "linear" && { strategy: "linear" as const }),
          step: progress.step,
          steps: progress.steps,
          weight: progress.weight,
          ...(stickiness && { stickiness }),
        },
        alarmNames: record.alarmNames ?? alarms.alarmNames,
        ...(capacity.unrecorded && { capacity: capacity.capacity }),
      },
      { announce: [event] },
    );
  }

  // Armed at the first step, before any traffic moves (again on a retry of it: both calls are idempotent).
  if (progress.step === 1) await armRolloutWatch(rollout, alarms, deps, fence);
  await fence.act(
    () => deps.gateway.setWeights(rollout.model, weights, stickiness),
    routeUndo(deps.gateway, rollout.model, rollout.version, stable.version),
  );
  await announcePending(deps, rollout.model, rollout.id);
  return progress;
}

/**
 * The step's answer while the candidate's new replicas start: `$.canary` stays the step applied before (none:
 * step 0 at weight 0), with what it waits for; the state machine polls again, and past the candidate's startup
 * budget the rollout is rolled back.
 */
function scalingProgress(
  state: ExecutionState,
  plan: RolloutPlan,
  progress: CanaryProgress,
  applied: CanaryProgress | undefined,
  pending: ReplicasPending,
  now: Date,
): CanaryProgress {
  const earlier = ongoingScaling(state, progress);
  const checks = (earlier?.checks ?? 0) + 1;
  const since = earlier?.since ?? now.toISOString();
  if (checks > plan.maxReadinessChecks) {
    throw new CandidateTimeout(
      `The candidate's replicas for step ${progress.step} (${progress.weight}%) were not ready after ${plan.maxReadinessChecks} checks, one every ${plan.readinessPollSeconds} s since ${since}: ${pending.reason}`,
      {
        hint: "Check the new pods' events and logs (modelship status names the workload): the cluster may lack room for them, or they may fail to start.",
      },
    );
  }
  const {
    check: _check,
    scaling: _scaling,
    ...before
  } = applied ?? {
    step: 0,
    steps: progress.steps,
    weight: 0,
    bakeSeconds: 0,
  };
  const scaling: CanaryScaling = {
    step: progress.step,
    weight: progress.weight,
    replicas: pending.replicas,
    ready: pending.ready,
    checks,
    since,
    reason: pending.reason,
  };
  return { ...before, scaling };
}

/** What the state says the step has waited for so far, when the previous call of this step was waiting. */
function ongoingScaling(state: ExecutionState, progress: CanaryProgress): CanaryScaling | undefined {
  const scaling = state.canary?.["scaling"] as CanaryScaling | undefined;
  return scaling?.step === progress.step ? scaling : undefined;
}

/** Seconds from the step's first wait for new replicas to now; undefined when it did not wait. */
function scalingSeconds(state: ExecutionState, progress: CanaryProgress, now: Date): number | undefined {
  const since = ongoingScaling(state, progress)?.since;
  return since === undefined ? undefined : Math.round((now.getTime() - Date.parse(since)) / 1000);
}

/** The step after the one applied (none before the first); past the last, the state machine promotes. */
function nextStep(plan: RolloutPlan, applied: CanaryPosition | undefined): CanaryProgress {
  const next = nextCanaryStep(plan, applied);
  if (!next) {
    const steps = plan.canarySteps.length;
    throw new Error(
      `CanaryStep was asked for a step after step ${applied?.step ?? 0}, but the plan has ${steps} step(s): the state machine should have promoted after step ${steps}.`,
    );
  }
  return next;
}

/** The stable and candidate versions a canary shifts between, as the record names them. */
function canaryVersions(record: ModelRecord, rolloutId: string) {
  const { stable, candidate } = record;
  if (!candidate || candidate.rolloutId !== rolloutId) {
    throw new Error(
      `CanaryStep needs the candidate RegisterGateway records, but ${record.model}'s record names ${candidate ? `rollout ${candidate.rolloutId}'s` : "no"} candidate.`,
    );
  }
  if (!stable) {
    throw new Error(
      `CanaryStep needs a stable version to shift traffic from, but ${record.model}'s record has none: a first release goes straight to Promote.`,
    );
  }
  return { stable, candidate };
}
