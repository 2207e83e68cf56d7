// An alarm's metric over a span of time — what the rollout report charts against the alarm's threshold — and
// the period it is read at. Both adapters read it the same way (the alarm's own metric or metric math, one
// value per period): CloudWatch with GetMetricData, the local runtime from its metric series.
//
// The period is the alarm's while its data is still kept at that resolution and the span fits the chart;
// otherwise a coarser multiple of 60 s. CloudWatch keeps datapoints of periods under 60 s for 3 hours, and
// GetMetricData returns none for a high-resolution period whose StartTime is older than that (MetricStat's
// API reference, Period); a long canary is read at whole minutes, as many as the chart can show.

import type { ComparisonOperator, MetricAlarmSpec } from "./alarm-spec";

/** One period of the alarm's metric: its start (ISO) and value. A period without data is absent. */
export interface AlarmMetricPoint {
  readonly at: string;
  readonly value: number;
}

/** A metric alarm, its threshold, and its metric's value period by period over the asked span. */
export interface AlarmMetricHistory {
  readonly name: string;
  readonly description?: string;
  readonly threshold: number;
  readonly comparison: ComparisonOperator;
  /** The alarm's own period. */
  readonly alarmPeriodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  /** The period the points are of: the alarm's, or coarser for an old or long span. */
  readonly periodSeconds: number;
  /** Oldest first. */
  readonly points: readonly AlarmMetricPoint[];
}

export interface TimeSpan {
  readonly start: Date;
  readonly end: Date;
}

/** The most periods read per alarm: a chart 640 pixels wide shows no more. */
export const MAX_HISTORY_PERIODS = 720;
/** How long CloudWatch keeps datapoints of a period under a minute. */
const HIGH_RESOLUTION_KEPT_MS = 3 * 3600 * 1000;

/** The period to read an alarm's metric at over `span`, judged at `now`. */
export function historyPeriodSeconds(alarmPeriodSeconds: number, span: TimeSpan, now: Date): number {
  const kept = now.getTime() - span.start.getTime() <= HIGH_RESOLUTION_KEPT_MS;
  let period = alarmPeriodSeconds < 60 && !kept ? 60 : alarmPeriodSeconds;
  const spanSeconds = Math.max(0, (span.end.getTime() - span.start.getTime()) / 1000);
  if (spanSeconds / period > MAX_HISTORY_PERIODS) {
    period = Math.ceil(spanSeconds / MAX_HISTORY_PERIODS / 60) * 60;
  }
  return period;
}

/** The history of an alarm we hold the spec of, read at `periodSeconds`. */
export function specHistory(
  spec: MetricAlarmSpec,
  periodSeconds: number,
  points: readonly AlarmMetricPoint[],
): AlarmMetricHistory {
  return {
    name: spec.name,
    description: spec.description,
    threshold: spec.threshold,
    comparison: spec.comparison,
    alarmPeriodSeconds: spec.periodSeconds,
    evaluationPeriods: spec.evaluationPeriods,
    datapointsToAlarm: spec.datapointsToAlarm,
    periodSeconds,
    points,
  };
}
