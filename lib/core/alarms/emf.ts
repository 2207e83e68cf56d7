// The canary's metrics as CloudWatch Embedded Metric Format records: the prober writes each record as one
// JSON line to its log, and CloudWatch Logs turns it into datapoints. Probe observations become one record
// per model version, variant and second, each metric a values array (one value per observation, at most 100
// per record as the specification allows), so CloudWatch receives the same samples the local metric store
// records (canary-metrics.ts); a window of real traffic becomes one record of single values at its end.
// The dimension set is exactly the alarms' — Model, Version, Variant, Source — and nothing else: an extra
// dimension (a library's `service`, `ServiceName`) makes a different metric, and the alarms would watch one
// that never gets data. StorageResolution 1 keeps the 10-second alarm periods fed.

import type { Observation, TrafficPeriod } from "./canary-metrics";
import {
  CANARY_DIMENSION_KEYS,
  CANARY_METRIC_UNITS,
  type CanaryMetricName,
  type MetricSample,
  type MetricSource,
  type ProbeMetricName,
  observationSamples,
  trafficSamples,
} from "./canary-metrics";

/** The specification's limit on the values of one metric in one record. */
const MAX_VALUES_PER_METRIC = 100;
const PROBE_METRIC_NAMES: readonly ProbeMetricName[] = ["Latency", "Errors", "Requests"];

export interface EmfRecord {
  readonly _aws: {
    /** Epoch milliseconds. */
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly {
        readonly Name: string;
        readonly Unit: string;
        readonly StorageResolution: 1;
      }[];
    }[];
  };
  readonly Model: string;
  readonly Version: string;
  readonly Variant: string;
  readonly Source: MetricSource;
  /** Each metric's value (a window of traffic) or values (probe observations); absent: no value. */
  readonly [metric: string]: unknown;
}

/**
 * The EMF records for `observations` (Source `probe`), grouped in the order each group's first observation
 * comes. Throws a RangeError naming the observation whose timestamp or latency is unusable (nothing is
 * written for a batch that would lie).
 */
export function emfRecords(observations: readonly Observation[], namespace: string): EmfRecord[] {
  const groups = new Map<
    string,
    { head: Observation; second: number; values: Record<ProbeMetricName, number[]> }[]
  >();
  for (const observation of observations) {
    const samples = observationSamples(observation, namespace);
    const second = Math.floor((samples[0]?.at ?? 0) / 1000) * 1000;
    const key = JSON.stringify([observation.model, observation.version, observation.variant, second]);
    const chunks = groups.get(key) ?? [];
    groups.set(key, chunks);
    let chunk = chunks[chunks.length - 1];
    // Every observation adds one Requests value (a Latency only when one was measured).
    if (!chunk || chunk.values.Requests.length >= MAX_VALUES_PER_METRIC) {
      chunk = { head: observation, second, values: { Latency: [], Errors: [], Requests: [] } };
      chunks.push(chunk);
    }
    for (const sample of samples)
      chunk.values[sample.metric.metricName as ProbeMetricName].push(sample.value);
  }
  return [...groups.values()].flat().map(({ head, second, values }) =>
    // A metric without values (no latency was measured in the chunk) is left out: EMF has no empty arrays.
    record(
      namespace,
      { ...head, source: "probe" },
      second,
      PROBE_METRIC_NAMES.filter((name) => values[name].length > 0).map((name) => [name, values[name]]),
    ),
  );
}

/** One EMF record per window of real traffic with at least one value; a RangeError for an unusable one. */
export function trafficEmfRecords(periods: readonly TrafficPeriod[], namespace: string): EmfRecord[] {
  return periods.flatMap((period) => {
    const samples: MetricSample[] = trafficSamples(period, namespace);
    const [first] = samples;
    if (!first) return [];
    return [
      record(
        namespace,
        period,
        first.at,
        samples.map((s) => [s.metric.metricName as CanaryMetricName, s.value]),
      ),
    ];
  });
}

function record(
  namespace: string,
  subject: {
    readonly model: string;
    readonly version: string;
    readonly variant: string;
    readonly source: MetricSource;
  },
  timestamp: number,
  metrics: readonly (readonly [CanaryMetricName, number | number[]])[],
): EmfRecord {
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [[...CANARY_DIMENSION_KEYS]],
          Metrics: metrics.map(([name]) => ({
            Name: name,
            Unit: CANARY_METRIC_UNITS[name],
            StorageResolution: 1 as const,
          })),
        },
      ],
    },
    Model: subject.model,
    Version: subject.version,
    Variant: subject.variant,
    Source: subject.source,
    ...Object.fromEntries(metrics),
  };
}
