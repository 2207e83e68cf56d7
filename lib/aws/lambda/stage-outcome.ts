// Middleware: measures and logs how each invocation of a stage ended — a `StageDuration` (ms) and a
// `StageFailed` (0 or 1) metric with a `Stage` dimension, and one log line naming the outcome (and a warning
// when a stage that ended a rollout could not write its report). The line carries what the stage decided —
// a canary step's weight, a rollback's reason, a command's answer — so the pipeline's dashboard
// (lib/infra/pipeline-dashboard.ts) can list weight changes and rollbacks with Logs Insights.

import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { MiddlewareObj } from "@middy/core";
import { logger, metrics } from "./powertools";

export function stageOutcome(stage: string): MiddlewareObj {
  let startedAt = 0;
  const record = (failed: boolean): number => {
    const durationMs = Math.round(performance.now() - startedAt);
    metrics.addDimension("Stage", stage);
    metrics.addMetric("StageDuration", MetricUnit.Milliseconds, durationMs);
    metrics.addMetric("StageFailed", MetricUnit.Count, failed ? 1 : 0);
    return durationMs;
  };
  return {
    before: () => {
      startedAt = performance.now();
    },
    after: ({ response }) => {
      const durationMs = record(false);
      logger.info(`${stage} succeeded`, { stage, durationMs, ...decisionFields(response) });
      // A stage that ended a rollout but could not write its report: the rollout's end stands, this is told.
      const reportProblem = (response as { reportProblem?: unknown } | null | undefined)?.reportProblem;
      if (typeof reportProblem === "string") logger.warn(reportProblem, { stage });
    },
    onError: ({ error }) => {
      const durationMs = record(true);
      logger.error(`${stage} failed`, { stage, durationMs, error });
    },
  };
}

/** Longest reason or answer a log line carries: a Logs Insights table cell, not the whole story. */
const MAX_TEXT = 1000;

/** What a stage's answer decided, in fields a log query can filter on; nothing else of the answer. */
export function decisionFields(response: unknown): Record<string, string | number> {
  if (!response || typeof response !== "object") return {};
  const answer = response as Record<string, unknown>;
  const fields: Record<string, string | number> = {};
  for (const key of ["weight", "step", "steps"] as const) {
    const value = answer[key];
    if (typeof value === "number" && Number.isFinite(value)) fields[key] = value;
  }
  for (const key of ["reason", "result", "status", "model", "version"] as const) {
    const value = answer[key];
    if (typeof value === "string") fields[key] = value.slice(0, MAX_TEXT);
  }
  // A command's answer is its `message`, which would overwrite the log line's own message.
  if (typeof answer.message === "string") fields.answer = answer.message.slice(0, MAX_TEXT);
  return fields;
}
