// How a metric alarm's last evaluation reads, in CloudWatch's "M out of N" terms: of the EvaluationPeriods (N)
// periods it judges, how many breach the threshold and how many had no datapoint, next to the
// DatapointsToAlarm (M) it takes and what TreatMissingData does with the gaps. The local evaluator and the
// AWS adapter both summarize with this, from the values of the same evaluation range, so `modelship status`
// explains an OK alarm whose latest value is over its threshold the same way on both.

import type { AlarmEvaluation, ComparisonOperator, MetricAlarmSpec } from "./alarm-spec";

/**
 * Periods an evaluation reads beyond EvaluationPeriods, to look past gaps. CloudWatch reads "more than
 * Evaluation Periods" (its documented example reads 5 for 3); the exact number is not published.
 */
const EXTRA_RANGE_PERIODS = 2;

/** How many whole periods, ending with the newest complete one, an evaluation of the alarm reads. */
export function evaluationRangePeriods(evaluationPeriods: number): number {
  return evaluationPeriods + EXTRA_RANGE_PERIODS;
}

/** Whether a value breaches the threshold under the comparison. */
export function isBreaching(value: number, comparison: ComparisonOperator, threshold: number): boolean {
  switch (comparison) {
    case "GreaterThanThreshold":
      return value > threshold;
    case "GreaterThanOrEqualToThreshold":
      return value >= threshold;
    case "LessThanThreshold":
      return value < threshold;
    case "LessThanOrEqualToThreshold":
      return value <= threshold;
  }
}

/**
 * The evaluation of an alarm over its evaluation range, `newestFirst` one value per period (undefined where
 * the period has no datapoint). As CloudWatch's user guide describes ("How alarm state is evaluated when
 * data is missing"): with at least N datapoints in the range, the N most recent are the N evaluated, gaps
 * between them skipped; with fewer, every datapoint is evaluated and the N − r others are periods without
 * data, which TreatMissingData fills.
 */
export function summarizeEvaluation(
  spec: Pick<
    MetricAlarmSpec,
    "comparison" | "threshold" | "evaluationPeriods" | "datapointsToAlarm" | "treatMissingData"
  >,
  newestFirst: readonly (number | undefined)[],
): AlarmEvaluation {
  const evaluated = newestFirst
    .filter((value): value is number => value !== undefined)
    .slice(0, spec.evaluationPeriods);
  return {
    evaluationPeriods: spec.evaluationPeriods,
    datapointsToAlarm: spec.datapointsToAlarm,
    breaching: evaluated.filter((value) => isBreaching(value, spec.comparison, spec.threshold)).length,
    noData: spec.evaluationPeriods - evaluated.length,
    treatMissingData: spec.treatMissingData,
  };
}
