// The version-scoped alarms that watch a canary (and a first release through its watch window), as
// PutMetricAlarm / PutCompositeAlarm inputs: the candidate's p95 latency and error rate against absolute
// thresholds, its p95 time to first token when the manifest sets one, and — when the manifest asks and a
// stable version serves beside it — its latency ratio and error-rate difference against the stable version
// in the same periods; a "no data" guard; and one composite over them all, the alarm the rollback rule
// watches. Names are `<alarmPrefix><model>-<version>-<what>` (`modelship-` unless the pipeline has its own
// prefix), so a firing alarm of an old version never blocks the next rollout.
//
// Each alarm watches the source the manifest gives it (canary-metrics.ts has the metrics):
// - `probe`: the prober's chats; `traffic`: real traffic (Source `traffic`, or `prometheus` when the stack
//   reads the user's Prometheus); `both`: one alarm on each, either rolls back (names end `-probe`,
//   `-traffic`);
// - `auto`: metric math `IF(traffic_requests >= TIME_SERIES(minRequests), <traffic value>, <probe value>)`
//   — real traffic decides a period in which the candidate served at least minRequests requests, the
//   prober's chats decide the others. Comparing against TIME_SERIES, which has a value in every period,
//   keeps the condition defined where traffic has no datapoint (a missing value counts as 0 in a
//   comparison of two series), so the prober's value is used there rather than the period dropped.
// Real traffic's percentiles are already a window's p95 each (traffic-window.ts): their alarms take the
// period's Maximum, the worst window in it.
//
// No data is not health:
// - `…-no-probe-data` is ALARM when the candidate's probe requests in a period (at least a minute) fall
//   below half of what the probe plan sends. A round that cannot probe still publishes its requests (as
//   errors), so only a prober that does not run at all trips it. Periods before the prober has surely
//   started are left out with `IF(EPOCH(requests) >= <first whole period after the grace>, …)`, so the first,
//   partial period after arming can never roll a healthy canary back; after that, `requests +
//   TIME_SERIES(0)` makes a period without any probe a 0, never a gap that missing-data treatment could
//   call healthy. Two such periods in a row are needed: one missed scheduled invocation is not an outage.
// - `…-traffic-unreadable` is ALARM when the candidate's pods' metrics (or the Prometheus queries) could not
//   be read, in the manifest's M of N periods — only when some alarm watches real traffic with no fallback
//   to the prober (`traffic`, `both`, or the TTFT alarm), since those alarms are blind while it lasts.
//
// Error rates are `IF(requests > 0, 100 * errors / requests)`: a period without requests has no error
// rate (the no-data guard judges it), rather than a made-up 0%.

import type { AlarmSpec, MetricAlarmSpec, MetricId, MetricQuery, Statistic } from "./alarm-spec";
import { type CanaryMetricName, type TrafficSource, canaryMetric } from "./canary-metrics";
import {
  type AlarmSource,
  MODEL_NAME_PATTERN,
  MODEL_VERSION_PATTERN,
  type ResolvedAlarms,
} from "../manifest/manifest-schema";

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
  /** Where real traffic's values come from: the pods' own metrics, or the stack's Prometheus. */
  readonly trafficSource: TrafficSource;
  /** The probe plan (config `canaryMetrics`): what the no-data guard expects per period. */
  readonly prober: { readonly everySeconds: number; readonly requestsPerRound: number };
  /** When the alarms are created: the no-data guard judges only periods after the prober has surely started. */
  readonly armedAt: Date;
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
/** CloudWatch's limit on AlarmDescription. */
const MAX_DESCRIPTION = 1024;
/**
 * Seconds after arming by which the prober has surely run: EventBridge Scheduler fires a `rate(1 minute)`
 * schedule with 60-second precision ("Schedule types", EventBridge Scheduler user guide), so its first
 * invocation may come a minute or more after the schedule is created. Locally the first round runs at once.
 */
export const PROBER_START_GRACE_SECONDS = 120;
/** The no-data guard's shortest period: a minute holds several probe rounds, so jitter cannot trip it. */
const GUARD_MIN_PERIOD_SECONDS = 60;
/** Consecutive short periods before the guard fires: a single missed invocation is not an outage. */
const GUARD_PERIODS = 2;

type Watched = "probe" | "traffic" | "auto";

export function canaryAlarmSpecs(input: CanaryAlarmsInput): CanaryAlarms {
  const { model, version, stableVersion, alarms, namespace, trafficSource } = input;
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
  const min = alarms.minRequests;
  const metricOf =
    (variant: "candidate" | "stable", versionOf: string) =>
    (watched: "probe" | "traffic", name: CanaryMetricName): MetricId =>
      canaryMetric(
        namespace,
        { model, version: versionOf, variant, source: watched === "probe" ? "probe" : trafficSource },
        name,
      );
  const candidate = metricOf("candidate", version);
  const stat = (id: string, metric: MetricId, statName: string): MetricQuery => ({
    id,
    metricStat: { metric, periodSeconds: alarms.periodSeconds, stat: statName },
    returnData: false,
  });
  const expression = (id: string, text: string, label: string, returnData = false): MetricQuery => ({
    id,
    expression: text,
    label,
    returnData,
  });
  const named = (what: string, watched: Watched, source: AlarmSource) =>
    alarmName(model, version, source === "auto" ? what : `${what}-${watched}`);
  const sourceWords = (watched: Watched) => SOURCE_WORDS[watched](min);

  const metricAlarms: MetricAlarmSpec[] = [];

  for (const watched of watchedBy(alarms.sources.latencyP95Ms)) {
    const base = {
      ...common,
      name: named("latency-p95", watched, alarms.sources.latencyP95Ms),
      description: `p95 latency of ${model} ${version} (${sourceWords(watched)}) above ${alarms.latencyP95Ms} ms ${window}`,
      threshold: alarms.latencyP95Ms,
    };
    if (watched === "probe") {
      metricAlarms.push({ ...base, metric: { ...candidate("probe", "Latency"), extendedStatistic: "p95" } });
    } else if (watched === "traffic") {
      metricAlarms.push({ ...base, metric: windowStatistic(candidate("traffic", "LatencyP95")) });
    } else {
      metricAlarms.push({
        ...base,
        metrics: [
          stat("traffic_requests", candidate("traffic", "Requests"), "Sum"),
          stat("traffic_p95", candidate("traffic", "LatencyP95"), WINDOW_STATISTIC),
          stat("probe_p95", candidate("probe", "Latency"), "p95"),
          expression(
            "latency_p95",
            `IF(traffic_requests >= TIME_SERIES(${min}), traffic_p95, probe_p95)`,
            `p95 latency of ${model} ${version} (ms)`,
            true,
          ),
        ],
      });
    }
  }

  for (const watched of watchedBy(alarms.sources.errorRate)) {
    const rate = (source: "probe" | "traffic", prefix: string): MetricQuery[] => [
      stat(`${prefix}errors`, candidate(source, "Errors"), "Sum"),
      stat(`${prefix}requests`, candidate(source, "Requests"), "Sum"),
    ];
    const label = `error rate of ${model} ${version} (%)`;
    metricAlarms.push({
      ...common,
      name: named("error-rate", watched, alarms.sources.errorRate),
      description: `error rate of ${model} ${version} (${sourceWords(watched)}) above ${percent(alarms.errorRate)}% ${window}`,
      threshold: percent(alarms.errorRate),
      metrics:
        watched === "auto"
          ? [
              ...rate("traffic", "traffic_"),
              ...rate("probe", "probe_"),
              expression("probe_rate", errorRateOf("probe_"), `error rate of the probes (%)`),
              expression(
                "error_rate",
                `IF(traffic_requests >= TIME_SERIES(${min}), 100 * traffic_errors / traffic_requests, probe_rate)`,
                label,
                true,
              ),
            ]
          : [...rate(watched, ""), expression("error_rate", errorRateOf(""), label, true)],
    });
  }

  if (alarms.ttftP95Ms !== undefined) {
    metricAlarms.push({
      ...common,
      name: alarmName(model, version, "ttft-p95"),
      description: `p95 time to first token of ${model} ${version} (${sourceWords("traffic")}) above ${alarms.ttftP95Ms} ms ${window}`,
      threshold: alarms.ttftP95Ms,
      metric: windowStatistic(candidate("traffic", "TtftP95")),
    });
  }

  if (alarms.vsStable && stableVersion !== undefined) {
    const stable = metricOf("stable", stableVersion);
    const { latencyP95Ratio, errorRateDelta } = alarms.vsStable;
    const source = alarms.sources.vsStable;
    const bothServed = `candidate_traffic_requests >= TIME_SERIES(${min}) AND stable_traffic_requests >= TIME_SERIES(${min})`;
    const trafficRequests = [
      stat("candidate_traffic_requests", candidate("traffic", "Requests"), "Sum"),
      stat("stable_traffic_requests", stable("traffic", "Requests"), "Sum"),
    ];
    for (const watched of watchedBy(source)) {
      const p95 = (of: "candidate" | "stable", from: "probe" | "traffic") =>
        stat(
          `${of}_${from}_p95`,
          (of === "candidate" ? candidate : stable)(from, from === "probe" ? "Latency" : "LatencyP95"),
          from === "probe" ? "p95" : WINDOW_STATISTIC,
        );
      const ratio = (from: "probe" | "traffic") => `candidate_${from}_p95 / stable_${from}_p95`;
      const label = `p95 latency of ${version} / ${stableVersion}`;
      metricAlarms.push({
        ...common,
        name: named("latency-vs-stable", watched, source),
        description: `p95 latency of ${model} ${version} more than ${latencyP95Ratio}× that of ${stableVersion} (${sourceWords(watched)}) ${window}`,
        threshold: latencyP95Ratio,
        metrics:
          watched === "auto"
            ? [
                ...trafficRequests,
                p95("candidate", "traffic"),
                p95("stable", "traffic"),
                p95("candidate", "probe"),
                p95("stable", "probe"),
                // A period without stable data divides by zero, which drops it: no ratio without a baseline.
                expression(
                  "latency_ratio",
                  `IF(${bothServed}, ${ratio("traffic")}, ${ratio("probe")})`,
                  label,
                  true,
                ),
              ]
            : [
                p95("candidate", watched),
                p95("stable", watched),
                expression("latency_ratio", ratio(watched), label, true),
              ],
      });
    }
    for (const watched of watchedBy(source)) {
      const counts = (from: "probe" | "traffic"): MetricQuery[] =>
        (["candidate", "stable"] as const).flatMap((of) =>
          (["errors", "requests"] as const).map((what) =>
            stat(
              `${of}_${from}_${what}`,
              (of === "candidate" ? candidate : stable)(from, what === "errors" ? "Errors" : "Requests"),
              "Sum",
            ),
          ),
        );
      // The difference exists only where the stable served requests: a missing stable is no perfect stable.
      const label = `error rate of ${version} minus ${stableVersion} (percentage points)`;
      const delta = (from: "probe" | "traffic", id = `${from}_delta`, returnData = false): MetricQuery[] => [
        expression(
          `candidate_${from}_rate`,
          errorRateOf(`candidate_${from}_`),
          `error rate of ${version} (%)`,
        ),
        expression(
          `stable_${from}_rate`,
          errorRateOf(`stable_${from}_`),
          `error rate of ${stableVersion} (%)`,
        ),
        expression(
          id,
          `IF(stable_${from}_requests > 0, candidate_${from}_rate - stable_${from}_rate)`,
          label,
          returnData,
        ),
      ];
      const points = percent(errorRateDelta);
      metricAlarms.push({
        ...common,
        name: named("errors-vs-stable", watched, source),
        description: `error rate of ${model} ${version} more than ${points} percentage ${points === 1 ? "point" : "points"} above ${stableVersion}'s (${sourceWords(watched)}) ${window}`,
        threshold: points,
        metrics:
          watched === "auto"
            ? [
                ...counts("traffic"),
                ...counts("probe"),
                ...delta("traffic"),
                ...delta("probe"),
                expression("error_rate_delta", `IF(${bothServed}, traffic_delta, probe_delta)`, label, true),
              ]
            : [...counts(watched), ...delta(watched, "error_rate_delta", true)],
      });
    }
  }

  metricAlarms.push(noProbeDataGuard(input, candidate("probe", "Requests")));

  const blindable =
    alarms.ttftP95Ms !== undefined ||
    [
      alarms.sources.latencyP95Ms,
      alarms.sources.errorRate,
      ...(alarms.vsStable && stableVersion !== undefined ? [alarms.sources.vsStable] : []),
    ].some((source) => source === "traffic" || source === "both");
  if (blindable) {
    metricAlarms.push({
      ...common,
      name: alarmName(model, version, "traffic-unreadable"),
      description: `the metrics of ${model} ${version}'s real traffic (${trafficSource === "prometheus" ? "the stack's Prometheus" : "its pods' /metrics"}) could not be read ${window}`,
      threshold: 0,
      metric: { ...candidate("traffic", "ScrapeFailures"), statistic: "Sum" },
    });
  }

  const compositeName = alarmName(model, version, "rollback");
  const watchedList = metricAlarms.map((a) => a.description.replace(` ${window}`, ""));
  const specs: AlarmSpec[] = [
    ...metricAlarms,
    {
      kind: "composite",
      name: compositeName,
      description: truncate(
        `Rolls ${model} ${version} back when any of its canary alarms fires: ${watchedList.join("; ")}.`,
        MAX_DESCRIPTION,
      ),
      rule: metricAlarms.map((a) => `ALARM("${a.name}")`).join(" OR "),
    },
  ];
  return { specs, compositeName, alarmNames: specs.map((s) => s.name) };
}

/** The statistic alarms take of a real-traffic percentile: each value is one window's p95 already. */
const WINDOW_STATISTIC: Statistic = "Maximum";

function windowStatistic(metric: MetricId): MetricId & { readonly statistic: Statistic } {
  return { ...metric, statistic: WINDOW_STATISTIC };
}

/** `IF(<p>requests > 0, 100 * <p>errors / <p>requests)` */
function errorRateOf(prefix: string): string {
  return `IF(${prefix}requests > 0, 100 * ${prefix}errors / ${prefix}requests)`;
}

const SOURCE_WORDS: Readonly<Record<Watched, (minRequests: number) => string>> = {
  probe: () => "the prober's chats",
  traffic: () => "real traffic",
  auto: (min) => `real traffic in periods with at least ${min} requests, else the prober's chats`,
};

function watchedBy(source: AlarmSource): Watched[] {
  return source === "both" ? ["probe", "traffic"] : [source];
}

/**
 * ALARM when the candidate's probe requests in two periods in a row fell below half of what the probe plan
 * sends; periods before the prober has surely started are left out (see the file's first lines).
 */
function noProbeDataGuard(input: CanaryAlarmsInput, requests: MetricId): MetricAlarmSpec {
  const { model, version, alarms, prober, armedAt } = input;
  const periodSeconds = Math.max(alarms.periodSeconds, GUARD_MIN_PERIOD_SECONDS);
  const periodMs = periodSeconds * 1000;
  const everySeconds = Math.max(1, prober.everySeconds);
  const planned = Math.max(1, Math.floor(periodSeconds / everySeconds)) * prober.requestsPerRound;
  const threshold = Math.max(1, Math.ceil(planned / 2));
  const graceEnds = armedAt.getTime() + PROBER_START_GRACE_SECONDS * 1000;
  const firstJudged = Math.ceil(graceEnds / periodMs) * periodMs;
  return {
    kind: "metric",
    name: prefixedAlarmName(input.alarmPrefix ?? DEFAULT_ALARM_PREFIX, model, version, "no-probe-data"),
    description: `the prober sent ${model} ${version} fewer than ${threshold} of its ${planned} requests per ${periodWords(periodSeconds).replace(/s$/, "")} for ${GUARD_PERIODS} periods in a row, from ${new Date(firstJudged).toISOString()} on`,
    threshold,
    comparison: "LessThanThreshold",
    periodSeconds,
    evaluationPeriods: GUARD_PERIODS,
    datapointsToAlarm: GUARD_PERIODS,
    // Only the periods before `firstJudged` have no value: they are neither healthy nor breaching.
    treatMissingData: "notBreaching",
    metrics: [
      { id: "requests", metricStat: { metric: requests, periodSeconds, stat: "Sum" }, returnData: false },
      {
        id: "probe_requests",
        expression: `IF(EPOCH(requests) >= ${firstJudged / 1000}, requests + TIME_SERIES(0))`,
        label: `probe requests to ${model} ${version} per period`,
        returnData: true,
      },
    ],
  };
}

/** What a canary alarm watches, as `modelship status` shows it beside the alarm. */
export type AlarmWatches = "traffic" | "probe" | "auto" | "composite";

/**
 * What an alarm made by canaryAlarmSpecs watches, read from the end of its name (so it holds whatever
 * prefix the alarm names carry); undefined for a name it does not know.
 */
export function alarmWatches(name: string): AlarmWatches | undefined {
  if (name.endsWith("-rollback")) return "composite";
  if (name.endsWith("-no-probe-data") || name.endsWith("-probe")) return "probe";
  if (name.endsWith("-traffic-unreadable") || name.endsWith("-ttft-p95") || name.endsWith("-traffic")) {
    return "traffic";
  }
  if (AUTO_ALARMS.some((what) => name.endsWith(`-${what}`))) return "auto";
  return undefined;
}

/** The alarms named without a source: they watch `auto`. */
const AUTO_ALARMS = ["latency-p95", "error-rate", "latency-vs-stable", "errors-vs-stable"] as const;

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

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
