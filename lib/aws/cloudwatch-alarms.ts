// The Alarms port on CloudWatch. Each AlarmSpec is already a PutMetricAlarm / PutCompositeAlarm input in
// our own words, so `ensure` only spells it CloudWatch's way (creating or updating: both calls are upserts),
// one call at a time because PutMetricAlarm's rate quota is low, composites after the alarms they name.
// `states` reads both kinds in one DescribeAlarms per 100 names and, for a metric alarm, reads its evaluation
// range with GetMetricData (the state reason's data is only refreshed when the state changes, and is the
// fallback when GetMetricData fails): the newest value goes next to the threshold, and the range is summed
// up as CloudWatch evaluates it, DatapointsToAlarm out of EvaluationPeriods (`summarizeEvaluation`).
// `metricHistory` reads each metric alarm's metric over a span with the queries its definition holds, at the
// period historyPeriodSeconds chooses, page by page, oldest first.
// `remove` deletes composites before the alarms they name, since CloudWatch refuses to delete an alarm a
// composite still names, and only what exists, since one missing name makes DeleteAlarms delete nothing.

import {
  type CompositeAlarm,
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type MetricAlarm,
  type MetricDataQuery,
  PutCompositeAlarmCommand,
  PutMetricAlarmCommand,
  type PutMetricAlarmInput,
} from "@aws-sdk/client-cloudwatch";
import { evaluationRangePeriods, summarizeEvaluation } from "../core/alarms/alarm-evaluation";
import { type AlarmMetricHistory, historyPeriodSeconds, type TimeSpan } from "../core/alarms/alarm-history";
import type {
  AlarmEvaluation,
  AlarmSpec,
  AlarmState,
  AlarmStateValue,
  ComparisonOperator,
  CompositeAlarmSpec,
  MetricAlarmSpec,
  MetricId,
  TreatMissingData,
} from "../core/alarms/alarm-spec";
import type { Alarms, Clock } from "../ports";
import { asTransientWhenPassing } from "./transient-errors";

export interface CloudWatchAlarmsOptions {
  /** Default: `new CloudWatchClient({})` (the environment's standard configuration). */
  readonly client?: CloudWatchClient;
  /** The end of the window a metric's current value is read over. Default: the system clock. */
  readonly clock?: Pick<Clock, "now">;
}

/** DescribeAlarms and DeleteAlarms take at most 100 names per call. */
const NAMES_PER_CALL = 100;
const ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"] as const;
const REQUIRED_PERMISSIONS =
  "cloudwatch:PutMetricAlarm, PutCompositeAlarm, DescribeAlarms and DeleteAlarms on the alarms named modelship-*, and cloudwatch:GetMetricData";

export class CloudWatchAlarms implements Alarms {
  private readonly client: CloudWatchClient;
  private readonly clock: Pick<Clock, "now">;

  constructor(options: CloudWatchAlarmsOptions = {}) {
    this.client = options.client ?? new CloudWatchClient({});
    this.clock = options.clock ?? { now: () => new Date() };
  }

  async ensure(specs: readonly AlarmSpec[]): Promise<void> {
    for (const spec of specs) {
      if (spec.kind !== "metric") continue;
      const input = metricAlarmInput(spec);
      await this.call(`create or update the alarm ${spec.name}`, () =>
        this.client.send(new PutMetricAlarmCommand(input)),
      );
    }
    for (const spec of compositesInDependencyOrder(specs)) {
      await this.call(`create or update the composite alarm ${spec.name}`, () =>
        this.client.send(
          new PutCompositeAlarmCommand({
            AlarmName: spec.name,
            AlarmDescription: spec.description,
            AlarmRule: spec.rule,
          }),
        ),
      );
    }
  }

  /** The alarms that exist, in the order named; a name with no alarm is left out. */
  async states(names: readonly string[]): Promise<AlarmState[]> {
    const { metric, composite } = await this.describe(names);
    const states: AlarmState[] = [];
    for (const name of names) {
      const alarm = metric.get(name) ?? composite.get(name);
      if (!alarm) continue;
      const { value, evaluation } = metric.has(name)
        ? await this.currentEvaluation(alarm as MetricAlarm)
        : {};
      const threshold = (alarm as MetricAlarm).Threshold;
      const since = alarm.StateTransitionedTimestamp ?? alarm.StateUpdatedTimestamp;
      states.push({
        name,
        state: stateValue(alarm.StateValue),
        reason: alarm.StateReason ?? "",
        ...(value !== undefined && { value }),
        ...(threshold !== undefined && { threshold }),
        ...(evaluation && { evaluation }),
        ...(since && { since: since.toISOString() }),
      });
    }
    return states;
  }

  async metricHistory(names: readonly string[], span: TimeSpan): Promise<AlarmMetricHistory[]> {
    const { metric } = await this.describe(names);
    const histories: AlarmMetricHistory[] = [];
    for (const name of names) {
      const alarm = metric.get(name);
      const alarmPeriod = alarm && alarmPeriodOf(alarm);
      if (!alarm || !alarmPeriod || alarm.Threshold === undefined || !alarm.ComparisonOperator) continue;
      const period = historyPeriodSeconds(alarmPeriod, span, this.clock.now());
      const queries = valueQueries(alarm).map((query) =>
        query.MetricStat ? { ...query, MetricStat: { ...query.MetricStat, Period: period } } : query,
      );
      const returned = queries.find((q) => q.ReturnData !== false)?.Id;
      const points: { at: string; value: number }[] = [];
      let nextToken: string | undefined;
      do {
        const page = await this.call(`read the metric of the alarm ${name}`, () =>
          this.client.send(
            new GetMetricDataCommand({
              MetricDataQueries: queries,
              StartTime: span.start,
              EndTime: span.end,
              ScanBy: "TimestampAscending",
              ...(nextToken && { NextToken: nextToken }),
            }),
          ),
        );
        const result = page.MetricDataResults?.find((r) => r.Id === returned);
        (result?.Timestamps ?? []).forEach((timestamp, i) => {
          const value = result?.Values?.[i];
          if (value !== undefined && Number.isFinite(value))
            points.push({ at: timestamp.toISOString(), value });
        });
        nextToken = page.NextToken;
      } while (nextToken);
      histories.push({
        name,
        ...(alarm.AlarmDescription && { description: alarm.AlarmDescription }),
        threshold: alarm.Threshold,
        comparison: alarm.ComparisonOperator as ComparisonOperator,
        alarmPeriodSeconds: alarmPeriod,
        evaluationPeriods: alarm.EvaluationPeriods ?? 1,
        datapointsToAlarm: alarm.DatapointsToAlarm ?? alarm.EvaluationPeriods ?? 1,
        periodSeconds: period,
        points,
      });
    }
    return histories;
  }

  async remove(names: readonly string[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const { metric, composite } = await this.describe(names);
      try {
        for (const existing of [[...composite.keys()], [...metric.keys()]]) {
          for (const batch of batches(existing)) {
            await this.client.send(new DeleteAlarmsCommand({ AlarmNames: batch }));
          }
        }
        return;
      } catch (error) {
        // Deleted by someone else between DescribeAlarms and DeleteAlarms: look again, once.
        const name = (error as { name?: unknown }).name;
        if ((name === "ResourceNotFound" || name === "ResourceNotFoundException") && attempt < 2) continue;
        throw alarmsFailure(error, `delete the alarms ${names.join(", ")}`);
      }
    }
  }

  private async describe(names: readonly string[]): Promise<{
    readonly metric: Map<string, MetricAlarm>;
    readonly composite: Map<string, CompositeAlarm>;
  }> {
    const metric = new Map<string, MetricAlarm>();
    const composite = new Map<string, CompositeAlarm>();
    for (const batch of batches([...new Set(names)])) {
      let nextToken: string | undefined;
      do {
        const page = await this.call(`describe the alarms ${batch.join(", ")}`, () =>
          this.client.send(
            new DescribeAlarmsCommand({
              AlarmNames: batch,
              AlarmTypes: [...ALARM_TYPES],
              MaxRecords: NAMES_PER_CALL,
              ...(nextToken && { NextToken: nextToken }),
            }),
          ),
        );
        for (const alarm of page.MetricAlarms ?? []) if (alarm.AlarmName) metric.set(alarm.AlarmName, alarm);
        for (const alarm of page.CompositeAlarms ?? [])
          if (alarm.AlarmName) composite.set(alarm.AlarmName, alarm);
        nextToken = page.NextToken;
      } while (nextToken);
    }
    return { metric, composite };
  }

  /**
   * The newest value of the alarm's metric (or metric math) and how its evaluation range evaluates; the
   * range is the whole periods before the current one, as many as the local evaluator reads.
   */
  private async currentEvaluation(
    alarm: MetricAlarm,
  ): Promise<{ readonly value?: number; readonly evaluation?: AlarmEvaluation }> {
    const fallback = () => {
      const value = reasonDataValue(alarm);
      return value === undefined ? {} : { value };
    };
    const queries = valueQueries(alarm);
    const period = alarmPeriodOf(alarm);
    if (!queries.length || !period) return fallback();
    const periodMs = period * 1000;
    const range = evaluationRangePeriods(Math.max(1, alarm.EvaluationPeriods ?? 1));
    // GetMetricData's StartTime is inclusive and EndTime exclusive: exactly `range` whole periods.
    const end = Math.floor(this.clock.now().getTime() / periodMs) * periodMs;
    const start = end - range * periodMs;
    try {
      const answer = await this.client.send(
        new GetMetricDataCommand({
          MetricDataQueries: queries,
          StartTime: new Date(start),
          EndTime: new Date(end),
          ScanBy: "TimestampDescending",
        }),
      );
      const returned = queries.find((q) => q.ReturnData !== false)?.Id;
      const result = answer.MetricDataResults?.find((r) => r.Id === returned);
      const value = result?.Values?.[0];
      if (value === undefined) return fallback();
      const newestFirst = periodValues(result?.Timestamps, result?.Values, end, periodMs, range);
      const spec = evaluationSpec(alarm);
      return {
        value,
        ...(newestFirst && spec && { evaluation: summarizeEvaluation(spec, newestFirst) }),
      };
    } catch {
      // The value is for people to read; the alarm's state, which decides, is already in hand.
      return fallback();
    }
  }

  private async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw alarmsFailure(error, operation);
    }
  }
}

function metricAlarmInput(spec: MetricAlarmSpec): PutMetricAlarmInput {
  const common: PutMetricAlarmInput = {
    AlarmName: spec.name,
    AlarmDescription: spec.description,
    ComparisonOperator: spec.comparison,
    Threshold: spec.threshold,
    EvaluationPeriods: spec.evaluationPeriods,
    DatapointsToAlarm: spec.datapointsToAlarm,
    TreatMissingData: spec.treatMissingData,
  };
  const { metric, metrics } = spec;
  if (metric && !metrics) {
    const low = spec.evaluateLowSampleCountPercentile;
    const statistic = metric.extendedStatistic
      ? { ExtendedStatistic: metric.extendedStatistic, ...(low && { EvaluateLowSampleCountPercentile: low }) }
      : { Statistic: metric.statistic ?? "Average" };
    return { ...common, ...metricOf(metric), ...statistic, Period: spec.periodSeconds };
  }
  if (metrics && !metric) {
    return {
      ...common,
      Metrics: metrics.map((query): MetricDataQuery => ({
        Id: query.id,
        ...(query.expression !== undefined && { Expression: query.expression }),
        ...(query.metricStat && {
          MetricStat: {
            Metric: metricOf(query.metricStat.metric),
            Period: query.metricStat.periodSeconds,
            Stat: query.metricStat.stat,
          },
        }),
        ...(query.label !== undefined && { Label: query.label }),
        ReturnData: query.returnData,
      })),
    };
  }
  throw new Error(
    `Alarm spec ${spec.name} must have either a metric or metric math (metrics), not ${metric ? "both" : "neither"}: CloudWatch takes one or the other.`,
  );
}

function metricOf(metric: MetricId): {
  Namespace: string;
  MetricName: string;
  Dimensions: { Name: string; Value: string }[];
} {
  return {
    Namespace: metric.namespace,
    MetricName: metric.metricName,
    Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
  };
}

/** A metric alarm's period: its own, or its metric math's metrics'. */
function alarmPeriodOf(alarm: MetricAlarm): number | undefined {
  return alarm.Period ?? alarm.Metrics?.find((q) => q.MetricStat)?.MetricStat?.Period;
}

/** What GetMetricData is asked to get an alarm's value: its metric math as it is, or its one metric. */
function valueQueries(alarm: MetricAlarm): MetricDataQuery[] {
  if (alarm.Metrics?.length) return alarm.Metrics;
  const stat = alarm.ExtendedStatistic ?? alarm.Statistic;
  if (!alarm.MetricName || !alarm.Namespace || !stat || !alarm.Period) return [];
  return [
    {
      Id: "value",
      MetricStat: {
        Metric: {
          Namespace: alarm.Namespace,
          MetricName: alarm.MetricName,
          Dimensions: alarm.Dimensions ?? [],
        },
        Period: alarm.Period,
        Stat: stat,
      },
      ReturnData: true,
    },
  ];
}

/**
 * One value per period of the range, newest first, undefined where GetMetricData returned no datapoint (a
 * timestamp is the start of its period); undefined when timestamps and values do not pair up.
 */
function periodValues(
  timestamps: readonly Date[] | undefined,
  values: readonly number[] | undefined,
  end: number,
  periodMs: number,
  range: number,
): (number | undefined)[] | undefined {
  if (!timestamps || !values || timestamps.length !== values.length) return undefined;
  const byStart = new Map(timestamps.map((timestamp, i) => [timestamp.getTime(), values[i]]));
  return Array.from({ length: range }, (_, i) => byStart.get(end - (i + 1) * periodMs));
}

const COMPARISONS: readonly ComparisonOperator[] = [
  "GreaterThanThreshold",
  "GreaterThanOrEqualToThreshold",
  "LessThanThreshold",
  "LessThanOrEqualToThreshold",
];
const TREATMENTS: readonly TreatMissingData[] = ["breaching", "notBreaching", "ignore", "missing"];

/**
 * What the evaluation summary needs of a described alarm, with CloudWatch's defaults (DatapointsToAlarm:
 * EvaluationPeriods; TreatMissingData: missing); undefined for an alarm it cannot judge this way, such as
 * an anomaly-detection band.
 */
function evaluationSpec(alarm: MetricAlarm): Parameters<typeof summarizeEvaluation>[0] | undefined {
  const comparison = COMPARISONS.find((known) => known === alarm.ComparisonOperator);
  const treatMissingData = TREATMENTS.find((known) => known === (alarm.TreatMissingData ?? "missing"));
  const { Threshold: threshold, EvaluationPeriods: evaluationPeriods } = alarm;
  if (!comparison || !treatMissingData || threshold === undefined || !evaluationPeriods) return undefined;
  return {
    comparison,
    threshold,
    evaluationPeriods,
    datapointsToAlarm: alarm.DatapointsToAlarm ?? evaluationPeriods,
    treatMissingData,
  };
}

/** The newest datapoint CloudWatch evaluated at the alarm's last state change (`StateReasonData`). */
function reasonDataValue(alarm: MetricAlarm): number | undefined {
  let data: unknown;
  try {
    data = JSON.parse(alarm.StateReasonData ?? "");
  } catch {
    return undefined;
  }
  const { evaluatedDatapoints, recentDatapoints } = (data ?? {}) as {
    evaluatedDatapoints?: readonly { timestamp?: string; value?: unknown }[];
    recentDatapoints?: readonly unknown[];
  };
  const evaluated = [...(evaluatedDatapoints ?? [])]
    .filter((d) => typeof d.value === "number")
    .sort((a, b) => String(b.timestamp).localeCompare(String(a.timestamp)))[0]?.value;
  if (typeof evaluated === "number") return evaluated;
  const recent = recentDatapoints?.at(-1);
  return typeof recent === "number" ? recent : undefined;
}

/** Composites, each after the composites its rule names. */
function compositesInDependencyOrder(specs: readonly AlarmSpec[]): CompositeAlarmSpec[] {
  const pending = specs.filter((s): s is CompositeAlarmSpec => s.kind === "composite");
  const ordered: CompositeAlarmSpec[] = [];
  while (pending.length > 0) {
    const ready = pending.findIndex((spec) =>
      pending.every((other) => other === spec || !namesAlarm(spec.rule, other.name)),
    );
    // A cycle CloudWatch would refuse anyway: send the rest as given and let it say so.
    const [next] = pending.splice(ready >= 0 ? ready : 0, 1);
    if (next) ordered.push(next);
  }
  return ordered;
}

function namesAlarm(rule: string, name: string): boolean {
  return (
    rule.includes(`"${name}"`) ||
    new RegExp(`:alarm:${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"`).test(rule)
  );
}

function stateValue(value: string | undefined): AlarmStateValue {
  return value === "OK" || value === "ALARM" ? value : "INSUFFICIENT_DATA";
}

function batches<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += NAMES_PER_CALL) out.push(items.slice(i, i + NAMES_PER_CALL));
  return out;
}

function alarmsFailure(error: unknown, operation: string): unknown {
  const transient = asTransientWhenPassing(error, operation);
  if (transient !== error) return transient;
  const { name, message } = error as { name?: unknown; message?: unknown };
  const hint =
    name === "AccessDenied" || name === "AccessDeniedException"
      ? `The function's role needs ${REQUIRED_PERMISSIONS}; the ModelPipeline construct grants them.`
      : name === "LimitExceeded" || name === "LimitExceededFault"
        ? "The account's CloudWatch alarm quota is reached: delete unused alarms or ask for a higher quota."
        : "Read CloudWatch's message: an alarm spec it does not accept (period, statistic, metric math) is the usual cause.";
  return new Error(
    `CloudWatch refused to ${operation} (${String(name)}: ${String(message)}).\nHint: ${hint}`,
    {
      cause: error,
    },
  );
}
