// The CanaryStep stage: moves the model's weights to the next step of the plan's canary (the first step is
// never 0%: some gateways fail a weight-0 dark launch), arming the rollout's alarms and prober at the first
// step, before any traffic moves. The step is recorded first — its weights, the canary position and the
// alarms' names, with the "Canary Weight Changed" event to announce — conditionally on the rollout still
// owning the model; then the world follows the record, each change fenced (lib/pipeline/rollout-fence.ts), so
// a rollback that acts at any point finds in the record everything it must undo, and the stage, having lost
// the model, undoes its own late changes. Idempotent: a retried step that finds itself recorded and announced
// does nothing; one that finds its event still pending makes the same (idempotent) changes again and
// announces it.

import { canaryWeights, nextCanaryStep } from "../core/canary-policy";
import { describeStickiness } from "../core/sticky-routing";
import type { CanaryPosition, ExecutionState, ModelRecord, RolloutPlan } from "../core/rollout";
import { ANNOUNCE_USES, announcePending, stageComplete } from "./announce";
import { ARMING_USES, armRolloutWatch, rolloutAlarms } from "./canary-arming";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { planAndManifest, previousCanaryStep } from "./canary-state";
import type { StageDeps } from "./deps";
import { rolloutEvent } from "./events";
import type { CanaryProgress } from "./flow-state";
import { FENCE_USES, RolloutFence } from "./rollout-fence";
import { ROUTE_UNDO_USES, routeUndo } from "./stage-undos";

/** Moves the weights and records the step; arms the alarms and the prober at the first step. */
export const CANARY_STEP_USES = combinedUse(
  ARMING_USES,
  FENCE_USES,
  ANNOUNCE_USES,
  ROUTE_UNDO_USES,
  portUse({ store: ["get", "record"], gateway: ["setWeights"], events: ["emit"], clock: ["now"] }),
);

type CanaryStepDeps = DepsUsing<typeof CANARY_STEP_USES> & Pick<StageDeps, "config">;

const STAGE = "CanaryStep";

export async function canaryStep(state: ExecutionState, deps: CanaryStepDeps): Promise<CanaryProgress> {
  const { rollout } = state;
  const { plan, manifest } = planAndManifest(state, STAGE);
  const fence = new RolloutFence(deps.store, rollout, STAGE);
  const record = await fence.check();
  const { stable, candidate } = canaryVersions(record, rollout.id);

  const progress = nextStep(plan, previousCanaryStep(state));
  const weights = canaryWeights(plan, progress.weight);
  const alarms = rolloutAlarms(rollout, manifest, stable.version, deps);
  const { stickiness } = manifest.rollout;
  const recorded = record.canary?.step === progress.step && record.canary.weight === progress.weight;
  if (recorded && (await stageComplete(deps, record, rollout.id, STAGE))) return progress;
  if (!recorded) {
    const sticky = stickiness
      ? ` Requests with ${describeStickiness(stickiness)} stay on the version their key is on.`
      : "";
    const message = `${rollout.model} ${candidate.version} takes ${progress.weight}% of traffic, ${stable.version} ${weights.stable}% (step ${progress.step} of ${progress.steps}); baking ${progress.bakeSeconds} s.${sticky}`;
    const event = rolloutEvent("Canary Weight Changed", rollout, STAGE, message, deps.clock, {
      data: {
        step: progress.step,
        steps: progress.steps,
        weight: progress.weight,
        previousWeight: record.canary?.weight ?? 0,
        weights,
        stableVersion: stable.version,
        bakeSeconds: progress.bakeSeconds,
        ...(stickiness && { stickiness }),
      },
    });
    await fence.record(
      {
        at: deps.clock.now().toISOString(),
        rolloutId: rollout.id,
        version: rollout.version,
        stage: STAGE,
        status: "running",
        reason: message,
        weights,
      },
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
