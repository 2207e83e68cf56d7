// The CanaryStep stage: moves the model's weights to the next step of the plan's canary (the first step is
// never 0%: some gateways fail a weight-0 dark launch), arming the rollout's alarms and prober at the first
// step, before any traffic moves. It records the step with its weights and announces "Canary Weight Changed".
// Idempotent: a retried step finds itself in the record and changes nothing twice.

import { canaryWeights, nextCanaryStep } from "../core/canary-policy";
import type { CanaryPosition, ExecutionState, ModelRecord, RolloutPlan } from "../core/rollout";
import { ARMING_USES, armRolloutWatch } from "./canary-arming";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { planAndManifest, previousCanaryStep } from "./canary-state";
import type { StageDeps } from "./deps";
import { rolloutEvent } from "./events";
import type { CanaryProgress } from "./flow-state";
import { assertStillRunning } from "./rollout-record";

/** Moves the weights and records the step; arms the alarms and the prober at the first step. */
export const CANARY_STEP_USES = combinedUse(
  ARMING_USES,
  portUse({ store: ["get", "record"], gateway: ["setWeights"], events: ["emit"], clock: ["now"] }),
);

type CanaryStepDeps = DepsUsing<typeof CANARY_STEP_USES> & Pick<StageDeps, "config">;

const STAGE = "CanaryStep";

export async function canaryStep(state: ExecutionState, deps: CanaryStepDeps): Promise<CanaryProgress> {
  const { rollout } = state;
  const { plan, manifest } = planAndManifest(state, STAGE);
  const record = await deps.store.get(rollout.model);
  assertStillRunning(record, rollout.id, STAGE);
  const { stable, candidate } = canaryVersions(record, rollout.id);

  const progress = nextStep(plan, previousCanaryStep(state));
  if (record?.canary?.step === progress.step && record.canary.weight === progress.weight) return progress;

  const firstStep = record?.alarmNames === undefined;
  const alarmNames = record?.alarmNames ?? (await armRolloutWatch(rollout, manifest, stable.version, deps));
  const weights = canaryWeights(plan, progress.weight);
  await deps.gateway.setWeights(rollout.model, weights);

  const previousWeight = record?.canary?.weight ?? 0;
  const message = `${rollout.model} ${candidate.version} takes ${progress.weight}% of traffic, ${stable.version} ${weights.stable}% (step ${progress.step} of ${progress.steps}); baking ${progress.bakeSeconds} s.`;
  // Emitted before the record is written: a retry after a failed write repeats the event rather than
  // losing it (events are at-least-once).
  await deps.events.emit(
    rolloutEvent("Canary Weight Changed", rollout, STAGE, message, deps.clock, {
      data: {
        step: progress.step,
        steps: progress.steps,
        weight: progress.weight,
        previousWeight,
        weights,
        stableVersion: stable.version,
        bakeSeconds: progress.bakeSeconds,
      },
    }),
  );
  await deps.store.record(
    rollout.model,
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
      canary: { step: progress.step, steps: progress.steps, weight: progress.weight },
      ...(firstStep ? { alarmNames } : {}),
    },
  );
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
function canaryVersions(record: ModelRecord | undefined, rolloutId: string) {
  const { stable, candidate } = record ?? {};
  if (!candidate || candidate.rolloutId !== rolloutId) {
    throw new Error(
      `CanaryStep needs the candidate RegisterGateway records, but ${record?.model ?? "the model"}'s record names ${candidate ? `rollout ${candidate.rolloutId}'s` : "no"} candidate.`,
    );
  }
  if (!stable) {
    throw new Error(
      `CanaryStep needs a stable version to shift traffic from, but ${record?.model ?? "the model"}'s record has none: a first release goes straight to Promote.`,
    );
  }
  return { stable, candidate };
}
