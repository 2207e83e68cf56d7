// Alarm specifications in CloudWatch's own terms (the PutMetricAlarm / PutCompositeAlarm inputs), so the
// AWS adapter sends them as they are and the local evaluator applies the same semantics to the same specs.

export type ComparisonOperator =
  | "GreaterThanThreshold"
  | "GreaterThanOrEqualToThreshold"
  | "LessThanThreshold"
  | "LessThanOrEqualToThreshold";

export type TreatMissingData = "breaching" | "notBreaching" | "ignore" | "missing";

export type Statistic = "SampleCount" | "Average" | "Sum" | "Minimum" | "Maximum";

export interface MetricId {
  readonly namespace: string;
  readonly metricName: string;
  /** Must equal the emitted dimension set exactly, or the alarm sees no data. */
  readonly dimensions: Readonly<Record<string, string>>;
}

/** One entry of a metric-math alarm's `Metrics` list. Exactly one entry has returnData true. */
export interface MetricQuery {
  readonly id: string;
  readonly expression?: string;
  readonly metricStat?: { readonly metric: MetricId; readonly periodSeconds: number; readonly stat: string };
  readonly returnData: boolean;
  readonly label?: string;
}

interface AlarmBase {
  /** `modelship-<model>-<version>-<what>`: version-scoped, so an old version's alarm never blocks the next. */
  readonly name: string;
  readonly description: string;
}

export interface MetricAlarmSpec extends AlarmBase {
  readonly kind: "metric";
  readonly threshold: number;
  readonly comparison: ComparisonOperator;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissingData: TreatMissingData;
  /** A single metric with a statistic (`Sum`, `Average`) or an extended statistic (`p95`) … */
  readonly metric?: MetricId & { readonly statistic?: Statistic; readonly extendedStatistic?: string };
  /** … or metric math. */
  readonly metrics?: readonly MetricQuery[];
  /**
   * For a percentile alarm: `ignore` keeps the state while a period has too few samples to be significant
   * (fewer than 10/(1-p) for p ≥ 0.5, 10/p below); `evaluate` (CloudWatch's default when absent) always decides.
   */
  readonly evaluateLowSampleCountPercentile?: "evaluate" | "ignore";
}

export interface CompositeAlarmSpec extends AlarmBase {
  readonly kind: "composite";
  /** e.g. `ALARM("modelship-m-v2-latency") OR ALARM("modelship-m-v2-errors")` */
  readonly rule: string;
}

export type AlarmSpec = MetricAlarmSpec | CompositeAlarmSpec;

export type AlarmStateValue = "OK" | "ALARM" | "INSUFFICIENT_DATA";

export interface AlarmState {
  readonly name: string;
  readonly state: AlarmStateValue;
  readonly reason: string;
  /** The latest evaluated value, next to its threshold, for `modelship status`. */
  readonly value?: number;
  readonly threshold?: number;
  /** For a metric alarm: how its evaluation reads, M out of N, where the adapter could read the periods. */
  readonly evaluation?: AlarmEvaluation;
  /** ISO timestamp of the last state change. */
  readonly since?: string;
}

/**
 * A metric alarm's evaluation in CloudWatch's terms: of the `evaluationPeriods` (N) periods evaluated,
 * `breaching` have a value beyond the threshold and `noData` had no datapoint; `datapointsToAlarm` (M)
 * breaching periods make ALARM, and `treatMissingData` says how the periods without data count.
 */
export interface AlarmEvaluation {
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly breaching: number;
  readonly noData: number;
  readonly treatMissingData: TreatMissingData;
}
