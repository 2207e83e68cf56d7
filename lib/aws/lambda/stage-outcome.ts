// Middleware: measures and logs how each invocation of a stage ended — a `StageDuration` (ms) and a
// `StageFailed` (0 or 1) metric with a `Stage` dimension, and one log line naming the outcome (and a warning
// when a stage that ended a rollout could not write its report).

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
      logger.info(`${stage} succeeded`, { stage, durationMs });
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
