// The end of a rollout, told in its report: the stage that ends it (Finalize, Rollback, Cleanup) reads the
// alarms' metrics from arming to now while the alarms still exist (`readAlarmMetrics`, before it removes
// them), and once the end is recorded writes outcome.json — the steps and transitions from the model's
// history, the alarms' metrics, who or what ended it — and report.html again (`writeRolloutEnd`).
//
// Neither may fail or delay the end it tells: reading the metrics is bounded in time and a failure becomes a
// sentence in the page; a failure to write is returned as `reportProblem` (the Lambda logs it, the local
// runtime prints it) and the stage goes on. The first stage to end a rollout writes its outcome.json; a later
// call for the same rollout (the state machine's Rollback after the alarm's) keeps it and only renders the
// page again, so who ended it is never overwritten by who found it ended.

import type { AlarmMetricHistory } from "../core/alarms/alarm-history";
import { type OutcomeDocument, readReportDocument } from "../core/report/report-documents";
import type { ReportRollout } from "../core/report/report-input";
import {
  alarmsArmedAt,
  outcomeStrategy,
  type AlarmMetrics,
  type RolloutEnd,
  rolloutOutcome,
} from "../core/report/rollout-outcome";
import type { ModelRecord, RolloutPlan } from "../core/rollout/rollout";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { readDocument, reportPrefix, ROLLOUT_REPORT_USES, writeRolloutReport } from "./rollout-report";

/** Reads the model's history and writes outcome.json and report.html. */
export const ROLLOUT_END_USES = combinedUse(ROLLOUT_REPORT_USES, portUse({ store: ["get"], clock: ["now"] }));

/** Reads the alarms' metrics over the rollout (the stages that remove its alarms: Rollback, Finalize). */
export const ALARM_METRICS_USES = portUse({ alarms: ["metricHistory"], clock: ["now"] });

type RolloutEndDeps = DepsUsing<typeof ROLLOUT_END_USES>;

/** How long the alarms' metrics may take to read: the rollout's end waits for them. */
const ALARM_METRICS_TIMEOUT_MS = 10_000;

/** What writing the end's report came to: its key, or why it could not be written. */
export type RolloutEndReport = { readonly reportKey: string } | { readonly reportProblem: string };

/**
 * The metrics of the rollout's alarms from when they were armed to now, or why they could not be read;
 * undefined when the rollout armed none (it ended before its canary).
 */
export async function readAlarmMetrics(
  record: ModelRecord | undefined,
  rolloutId: string,
  deps: DepsUsing<typeof ALARM_METRICS_USES>,
): Promise<AlarmMetrics | undefined> {
  const names = record?.alarmNames ?? [];
  const armedAt = record ? alarmsArmedAt(record.history, rolloutId) : undefined;
  if (names.length === 0 || armedAt === undefined) return undefined;
  const end = deps.clock.now();
  const span = { start: new Date(armedAt), end };
  let timer: NodeJS.Timeout | undefined;
  try {
    const series = await Promise.race([
      deps.alarms.metricHistory(names, span),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${ALARM_METRICS_TIMEOUT_MS / 1000} s`)),
          ALARM_METRICS_TIMEOUT_MS,
        );
      }),
    ]);
    return { start: armedAt, end: end.toISOString(), series };
  } catch (error) {
    return {
      start: armedAt,
      end: end.toISOString(),
      series: [] as AlarmMetricHistory[],
      problem: firstLine(error),
    };
  } finally {
    clearTimeout(timer);
  }
}

export interface RolloutEndFacts {
  readonly end: RolloutEnd;
  readonly alarms?: AlarmMetrics;
  readonly plan?: RolloutPlan;
  /** How many steps the canary has, from the record's canary position, when the stage has no plan. */
  readonly stepCount?: number;
  /** The version that serves (or served, during the canary) beside this one. */
  readonly stableVersion?: string;
}

/** Writes outcome.json (unless the rollout's is there already) and report.html; never throws. */
export async function writeRolloutEnd(
  rollout: ReportRollout,
  facts: RolloutEndFacts,
  deps: RolloutEndDeps,
): Promise<RolloutEndReport> {
  try {
    const key = `${reportPrefix(rollout)}/outcome.json`;
    const existing = await readDocument("outcome", key, rollout, deps.objects);
    if (existing.status === "read") {
      // The first account stands; the plan, which only the state machine's stages know, fills in its steps.
      const planned = facts.plan && withPlannedSteps(existing.value, facts.plan);
      if (planned) await putOutcome(key, planned, rollout, deps);
    } else {
      const record = await deps.store.get(rollout.model);
      const document = rolloutOutcome({
        model: rollout.model,
        rolloutId: rollout.id,
        version: rollout.version,
        history: record?.history ?? [],
        end: facts.end,
        ...(facts.plan && { plannedSteps: facts.plan.canarySteps }),
        ...(facts.plan?.strategy && { strategy: facts.plan.strategy }),
        ...(facts.plan?.stickiness && { stickiness: facts.plan.stickiness }),
        ...(facts.stepCount !== undefined && { stepCount: facts.stepCount }),
        ...(facts.stableVersion !== undefined && { stableVersion: facts.stableVersion }),
        ...(facts.alarms && { alarms: facts.alarms }),
        at: deps.clock.now().toISOString(),
      });
      await putOutcome(key, document, rollout, deps);
    }
    return { reportKey: await writeRolloutReport(rollout, deps) };
  } catch (error) {
    return {
      reportProblem: `The report of rollout ${rollout.id} could not be written: ${firstLine(error)}`,
    };
  }
}

async function putOutcome(
  key: string,
  document: OutcomeDocument,
  rollout: ReportRollout,
  deps: RolloutEndDeps,
): Promise<void> {
  // What is written is what the page reads back: a document the reader would refuse is a bug here.
  const checked = readReportDocument("outcome", key, document, rollout);
  if (checked.status === "unreadable") {
    throw new Error(`the outcome built does not pass its own check: ${checked.problems.join("; ")}`);
  }
  await deps.objects.put(key, JSON.stringify(document, null, 2), { contentType: "application/json" });
}

/**
 * The document with what only the plan tells — each step's planned bake and the step count, the strategy and
 * the stickiness — filled in where it lacks them; undefined when it has them all.
 */
function withPlannedSteps(document: OutcomeDocument, plan: RolloutPlan): OutcomeDocument | undefined {
  const missingSteps = document.steps.some(
    (s, i) => plan.canarySteps[i] !== undefined && (s.plannedBakeSeconds === undefined || s.of === undefined),
  );
  const missingStrategy = plan.strategy !== undefined && document.strategy === undefined;
  const missingStickiness = plan.stickiness !== undefined && document.stickiness === undefined;
  if (!missingSteps && !missingStrategy && !missingStickiness) return undefined;
  return {
    ...document,
    ...(missingStrategy && plan.strategy && { strategy: outcomeStrategy(plan.strategy, plan.canarySteps) }),
    ...(missingStickiness && plan.stickiness && { stickiness: plan.stickiness }),
    steps: document.steps.map((s, i) => {
      const planned = plan.canarySteps[i];
      return planned ? { ...s, of: plan.canarySteps.length, plannedBakeSeconds: planned.bakeSeconds } : s;
    }),
  };
}

function firstLine(error: unknown): string {
  return error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : String(error);
}
