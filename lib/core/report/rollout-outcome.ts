// outcome.json: how a rollout ended and what happened on the way after its gates — each canary step with its
// weights, when it started and until when it baked, the promotion and who asked for it, each alarm's metric
// from arming to the end against its threshold, and the rollout's transitions — built from the model's
// rollout history and the alarms' metrics by the stage that ended the rollout (Finalize, Rollback, Cleanup),
// which alone knows who ended it and can still read the alarms before it removes them.

import type { AlarmMetricHistory } from "../alarms/alarm-history";
import type { Transition } from "../rollout/rollout";
import type { RolloutStrategy, Stickiness } from "../manifest/rollout-settings";
import type { OutcomeDocument } from "./report-documents";

/** Stages whose transition ends a canary step's bake: the next step, a promotion, or the end. */
const ENDS_A_BAKE = new Set(["CanaryStep", "CheckCanary", "Promote", "Rollback", "Finalize", "Cleanup"]);
/** The most transitions kept: a rollout records a few per stage; this bounds a corrupted history. */
const MAX_TRANSITIONS = 200;
/** The stage a `Promote Requested` command records its request under (lib/pipeline/rollout-record.ts). */
const PROMOTE_REQUESTED = "Promote Requested";

export type RolloutEnd = OutcomeDocument["end"];

export interface OutcomeInput {
  readonly model: string;
  readonly rolloutId: string;
  readonly version: string;
  /** The model's history as the rollout store returns it; only this rollout's transitions are used. */
  readonly history: readonly Transition[];
  readonly end: RolloutEnd;
  /** The plan's steps, when the stage knows the plan (it has the execution state). */
  readonly plannedSteps?: readonly { readonly weight: number; readonly bakeSeconds: number }[];
  /** The plan's strategy and stickiness, when the stage knows the plan. */
  readonly strategy?: RolloutStrategy;
  readonly stickiness?: Stickiness;
  /** How many steps the canary has, when only the record's canary position tells it. */
  readonly stepCount?: number;
  readonly stableVersion?: string;
  /** The alarms' metrics, or why they could not be read; undefined when no alarm was armed. */
  readonly alarms?: AlarmMetrics;
  /** When the document is written (ISO). */
  readonly at: string;
}

export interface AlarmMetrics {
  readonly start: string;
  readonly end: string;
  readonly series: readonly AlarmMetricHistory[];
  readonly problem?: string;
}

export function rolloutOutcome(input: OutcomeInput): OutcomeDocument {
  const own = input.history
    .filter((t) => t.rolloutId === input.rolloutId)
    .slice(-MAX_TRANSITIONS)
    .sort((a, b) => a.at.localeCompare(b.at));
  const stepTransitions = own.filter((t) => t.stage === "CanaryStep");
  const stepCount = input.plannedSteps?.length ?? input.stepCount;
  const steps = stepTransitions.map((t, i) => {
    const until =
      own.find((later) => later.at > t.at && ENDS_A_BAKE.has(later.stage) && later !== t)?.at ??
      (input.end.at > t.at ? input.end.at : undefined);
    const planned = input.plannedSteps?.[i];
    const weight = t.weights?.candidate ?? planned?.weight ?? 0;
    return {
      step: i + 1,
      ...(stepCount !== undefined && { of: stepCount }),
      weight,
      stableWeight: t.weights?.stable ?? 100 - weight,
      at: t.at,
      ...(until !== undefined && { until }),
      ...(planned && { plannedBakeSeconds: planned.bakeSeconds }),
    };
  });
  const promoted = own.findLast((t) => t.stage === "Promote");
  const requested = own.findLast((t) => t.stage === PROMOTE_REQUESTED);
  return {
    rolloutId: input.rolloutId,
    version: input.version,
    at: input.at,
    model: input.model,
    end: input.end,
    ...(input.stableVersion !== undefined && { stableVersion: input.stableVersion }),
    ...(input.strategy && { strategy: outcomeStrategy(input.strategy, input.plannedSteps) }),
    ...(input.stickiness && { stickiness: { ...input.stickiness } }),
    steps,
    ...(promoted && {
      promotion: {
        at: promoted.at,
        reason: promoted.reason,
        ...(requested && { requested: requested.reason }),
      },
    }),
    alarms: input.alarms
      ? {
          start: input.alarms.start,
          end: input.alarms.end,
          ...(input.alarms.problem !== undefined && { problem: input.alarms.problem }),
          series: input.alarms.series.map((s) => ({ ...s, points: [...s.points] })),
        }
      : null,
    transitions: own.map((t) => ({
      at: t.at,
      stage: t.stage,
      status: t.status,
      reason: t.reason,
      ...(t.weights && { weights: { ...t.weights } }),
      ...(t.hook && { hook: { ...t.hook } }),
    })),
  };
}

/** When the rollout's alarms were armed: its first canary step, or, for a first release, its promotion. */
export function alarmsArmedAt(history: readonly Transition[], rolloutId: string): string | undefined {
  const own = history.filter((t) => t.rolloutId === rolloutId);
  return own.find((t) => t.stage === "CanaryStep")?.at ?? own.find((t) => t.stage === "Promote")?.at;
}

/** The strategy as outcome.json keeps it: a canary with its planned weights, when the plan is known. */
export function outcomeStrategy(
  strategy: RolloutStrategy,
  plannedSteps: readonly { readonly weight: number }[] | undefined,
): NonNullable<OutcomeDocument["strategy"]> {
  return strategy.kind === "canary" && plannedSteps?.length
    ? { kind: "canary", weights: plannedSteps.map((s) => s.weight) }
    : { ...strategy };
}
