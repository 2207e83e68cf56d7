// The version-scoped alarms that watch a canary (and a first release through its watch window), as
// PutMetricAlarm / PutCompositeAlarm inputs: the candidate's p95 latency and error rate against absolute
// thresholds, and — when the manifest asks and a stable version serves beside it — its latency ratio and
// error-rate difference against the stable version in the same periods; one composite over them all is the
// alarm the rollback rule watches. Names are `<alarmPrefix><model>-<version>-<what>` (`modelship-` unless
// the pipeline has its own prefix), so a firing alarm of an old version never blocks the next rollout.

import type { AlarmSpec, MetricAlarmSpec, MetricId, MetricQuery } from "./alarm-spec";
import { type CanaryMetricName, canaryMetric } from "./canary-metrics";
import { MODEL_NAME_PATTERN, MODEL_VERSION_PATTERN, type ResolvedAlarms } from "./manifest-schema";

export interface CanaryAlarmsInput {
  readonly model: string;
  readonly version: string;
  /** The version serving beside the candidate; absent for a first release (no relative alarms). */
  readonly stableVersion?: string;
  readonly alarms: ResolvedAlarms;
  /** CloudWatch namespace of the canary metrics (config `canaryMetrics.namespace`). */
  readonly namespace: string;
  /** The pipeline's alarm name prefix (config `canaryMetrics.alarmPrefix`). Default `modelship-`. */
  readonly alarmPrefix?: string;
}

export interface CanaryAlarms {
  /** Metric alarms first, then the composite that names them (the order `Alarms.ensure` creates them in). */
  readonly specs: AlarmSpec[];
  /** `modelship-<model>-<version>-rollback`: ALARM when any of the others is. */
  readonly compositeName: string;
  /** Every alarm's name, the composite last: what the record keeps, to read and to remove. */
  readonly alarmNames: string[];
}

const MAX_ALARM_NAME = 255;

export function canaryAlarmSpecs(input: CanaryAlarmsInput): CanaryAlarms {
  const { model, version, stableVersion, alarms, namespace } = input;
  const alarmName = (model: string, version: string, what: string) =>
    prefixedAlarmName(input.alarmPrefix ?? DEFAULT_ALARM_PREFIX, model, version, what);
  checkNamePart("model", model, MODEL_NAME_PATTERN);
  checkNamePart("version", version, MODEL_VERSION_PATTERN);
  if (stableVersion !== undefined) checkNamePart("stable version", stableVersion, MODEL_VERSION_PATTERN);

  const window = `for ${alarms.datapointsToAlarm} of ${alarms.evaluationPeriods} ${periodWords(alarms.periodSeconds)}`;
  const common = {
    kind: "metric" as const,
    comparison: "GreaterThanThreshold" as const,
    periodSeconds: alarms.periodSeconds,
    evaluationPeriods: alarms.evaluationPeriods,
    datapointsToAlarm: alarms.datapointsToAlarm,
    treatMissingData: alarms.treatMissingData,
  };
  const candidate = (name: CanaryMetricName) =>
    canaryMetric(namespace, { model, version, variant: "candidate" }, name);
  const stat = (id: string, metric: MetricId, statName: string): MetricQuery => ({
    id,
    metricStat: { metric, periodSeconds: alarms.periodSeconds, stat: statName },
    returnData: false,
  });

  const metricAlarms: MetricAlarmSpec[] = [
    {
      ...common,
      name: alarmName(model, version, "latency-p95"),
      description: `p95 latency of ${model} ${version} above ${alarms.latencyP95Ms} ms ${window}`,
      threshold: alarms.latencyP95Ms,
      metric: { ...candidate("Latency"), extendedStatistic: "p95" },
    },
    {
      ...common,
      name: alarmName(model, version, "error-rate"),
      description: `error rate of ${model} ${version} above ${percent(alarms.errorRate)}% ${window}`,
      threshold: percent(alarms.errorRate),
      metrics: [
        stat("errors", candidate("Errors"), "Sum"),
        stat("requests", candidate("Requests"), "Sum"),
        {
          id: "error_rate",
          // MAX([requests, 1]): a period with errors but no counted requests still divides by something.
          expression: "100 * errors / MAX([requests, 1])",
          label: `error rate of ${model} ${version} (%)`,
          returnData: true,
        },
      ],
    },
  ];

  if (alarms.vsStable && stableVersion !== undefined) {
    const stable = (name: CanaryMetricName) =>
      canaryMetric(namespace, { model, version: stableVersion, variant: "stable" }, name);
    const { latencyP95Ratio, errorRateDelta } = alarms.vsStable;
    metricAlarms.push(
      {
        ...common,
        name: alarmName(model, version, "latency-vs-stable"),
        description: `p95 latency of ${model} ${version} more than ${latencyP95Ratio}× that of ${stableVersion} ${window}`,
        threshold: latencyP95Ratio,
        metrics: [
          stat("candidate_p95", candidate("Latency"), "p95"),
          stat("stable_p95", stable("Latency"), "p95"),
          {
            id: "latency_ratio",
            // A period without stable data divides by zero, which drops it: no ratio without a baseline.
            expression: "candidate_p95 / stable_p95",
            label: `p95 latency of ${version} / ${stableVersion}`,
            returnData: true,
          },
        ],
      },
      {
        ...common,
        name: alarmName(model, version, "errors-vs-stable"),
        description: `error rate of ${model} ${version} more than ${percent(errorRateDelta)} percentage ${percent(errorRateDelta) === 1 ? "point" : "points"} above ${stableVersion}'s ${window}`,
        threshold: percent(errorRateDelta),
        metrics: [
          stat("candidate_errors", candidate("Errors"), "Sum"),
          stat("candidate_requests", candidate("Requests"), "Sum"),
          stat("stable_errors", stable("Errors"), "Sum"),
          stat("stable_requests", stable("Requests"), "Sum"),
          {
            id: "stable_seen",
            // 1 where the stable version has data; missing elsewhere. Metric math counts a missing value
            // as 0, so without this the difference would compare the candidate against a perfect stable.
            expression: "stable_requests / stable_requests",
            label: `1 where ${stableVersion} has data`,
            returnData: false,
          },
          {
            id: "error_rate_delta",
            expression:
              "(100 * candidate_errors / MAX([candidate_requests, 1]) - 100 * stable_errors / MAX([stable_requests, 1])) / stable_seen",
            label: `error rate of ${version} minus ${stableVersion} (percentage points)`,
            returnData: true,
          },
        ],
      },
    );
  }

  const compositeName = alarmName(model, version, "rollback");
  const watched = metricAlarms.map((a) => a.description.replace(` ${window}`, ""));
  const specs: AlarmSpec[] = [
    ...metricAlarms,
    {
      kind: "composite",
      name: compositeName,
      description: `Rolls ${model} ${version} back when any of its canary alarms fires: ${watched.join("; ")}.`,
      rule: metricAlarms.map((a) => `ALARM("${a.name}")`).join(" OR "),
    },
  ];
  return { specs, compositeName, alarmNames: specs.map((s) => s.name) };
}

const DEFAULT_ALARM_PREFIX = "modelship-";

function prefixedAlarmName(prefix: string, model: string, version: string, what: string): string {
  const name = `${prefix}${model}-${version}-${what}`;
  if (name.length > MAX_ALARM_NAME) {
    throw new RangeError(
      `Alarm name ${name} has ${name.length} characters; CloudWatch allows ${MAX_ALARM_NAME}.`,
    );
  }
  return name;
}

/** Model and version go into alarm names and, quoted, into the composite's rule: only their characters. */
function checkNamePart(what: string, value: string, pattern: RegExp): void {
  if (!pattern.test(value)) {
    throw new RangeError(
      `Cannot name the canary alarms after ${what} '${value}': expected it to match ${pattern.source}, as the manifest rules require.`,
    );
  }
}

/** A fraction as a percentage without binary noise: 0.07 → 7, not 7.000000000000001. */
function percent(fraction: number): number {
  return Math.round(fraction * 100 * 1e9) / 1e9;
}

/** `10-second periods`, `1-minute periods`, `5-minute periods` */
function periodWords(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60}-minute periods` : `${seconds}-second periods`;
}
