// The canary's metrics, defined once, so the alarms (canary-alarms.ts), the EMF records the prober writes
// (emf.ts) and the local metric store all name the same metric: CloudWatch matches dimensions exactly, and
// an alarm whose dimension set differs from the emitted one by a single key watches a metric that never
// gets data. Every metric is dimensioned by exactly `Model`, `Version`, `Variant` and `Source`, the source
// being where the values come from:
// - `probe`: the prober's own chats, one sample per request — `Latency` (the alarms take its p95),
//   `Errors` and `Requests` (their Sum is the period's counts);
// - `traffic`: the serving pods' own Prometheus metrics (vLLM's), scraped each probe round and turned into
//   that window's values (traffic-window.ts) — `Requests`, `Errors`, `Aborted`, `RequestsWaiting`, the
//   window's percentiles `LatencyP95`, `TtftP95`, `ItlP95`, `QueueTimeP95` (the alarms take their
//   Maximum), and `ScrapeFailures` (pods whose metrics could not be read);
// - `prometheus`: the same metrics as `traffic`, from the user's own Prometheus by PromQL templates.

import type { Variant } from "../candidate";
import type { MetricId } from "./alarm-spec";

/** One probe or request observation, published as `Latency`, `Errors`, `Requests`. */
export interface Observation {
  readonly model: string;
  readonly version: string;
  readonly variant: Variant;
  /** Absent when no request could be sent (the version could not be probed): then it is an error. */
  readonly latencyMs?: number;
  readonly error: boolean;
  /** ISO timestamp. */
  readonly at: string;
}

/**
 * One window of a version's real traffic (from the last scrape or query to `at`), as values of the
 * real-traffic metrics (lib/core/alarms/canary-metrics.ts); a metric the window has no value for is absent.
 */
export interface TrafficPeriod {
  readonly model: string;
  readonly version: string;
  readonly variant: Variant;
  readonly source: TrafficSource;
  /** ISO timestamp of the window's end. */
  readonly at: string;
  readonly values: Readonly<Partial<Record<TrafficMetricName, number>>>;
}

/** Where a metric's values come from: the `Source` dimension. */
export type MetricSource = "probe" | "traffic" | "prometheus";
/** A source of real traffic's values: scraped from the pods, or read from the user's Prometheus. */
export type TrafficSource = Exclude<MetricSource, "probe">;

export type ProbeMetricName = "Latency" | "Errors" | "Requests";
export type TrafficMetricName =
  | "Requests"
  | "Errors"
  | "Aborted"
  | "LatencyP95"
  | "TtftP95"
  | "ItlP95"
  | "QueueTimeP95"
  | "RequestsWaiting"
  | "ScrapeFailures";
export type CanaryMetricName = ProbeMetricName | TrafficMetricName;

/** The real-traffic metrics in the order EMF lists them. */
export const TRAFFIC_METRIC_NAMES: readonly TrafficMetricName[] = [
  "Requests",
  "Errors",
  "Aborted",
  "LatencyP95",
  "TtftP95",
  "ItlP95",
  "QueueTimeP95",
  "RequestsWaiting",
  "ScrapeFailures",
];

/** CloudWatch units, as EMF's MetricDefinition and PutMetricData name them. */
export const CANARY_METRIC_UNITS: Readonly<Record<CanaryMetricName, "Milliseconds" | "Count">> = {
  Latency: "Milliseconds",
  Errors: "Count",
  Requests: "Count",
  Aborted: "Count",
  LatencyP95: "Milliseconds",
  TtftP95: "Milliseconds",
  ItlP95: "Milliseconds",
  QueueTimeP95: "Milliseconds",
  RequestsWaiting: "Count",
  ScrapeFailures: "Count",
};

/** The dimension keys of every canary metric, in the order EMF lists them. */
export const CANARY_DIMENSION_KEYS = ["Model", "Version", "Variant", "Source"] as const;

export interface CanaryMetricSubject {
  readonly model: string;
  readonly version: string;
  readonly variant: Variant;
  readonly source: MetricSource;
}

/** The metric `name` of one version of a model, serving as `variant`, from `source`. */
export function canaryMetric(
  namespace: string,
  subject: CanaryMetricSubject,
  name: CanaryMetricName,
): MetricId {
  return {
    namespace,
    metricName: name,
    dimensions: {
      Model: subject.model,
      Version: subject.version,
      Variant: subject.variant,
      Source: subject.source,
    },
  };
}

/** One value of one metric at one instant (epoch milliseconds). */
export interface MetricSample {
  readonly metric: MetricId;
  readonly value: number;
  readonly at: number;
}

/**
 * What an observation contributes (Source `probe`): its latency (if one was measured), 1 or 0 to `Errors`
 * and 1 to `Requests`, so `Sum` of the last two is the period's error and request counts whichever way the
 * samples travel (EMF or in-process). Throws a RangeError naming the observation when its timestamp or
 * latency is not a usable number.
 */
export function observationSamples(observation: Observation, namespace: string): MetricSample[] {
  const at = Date.parse(observation.at);
  const where = `observation of ${observation.model} ${observation.version} (${observation.variant})`;
  if (!Number.isFinite(at)) {
    throw new RangeError(`The ${where} has timestamp '${observation.at}', expected an ISO 8601 date-time.`);
  }
  const { latencyMs } = observation;
  if (latencyMs !== undefined && (!Number.isFinite(latencyMs) || latencyMs < 0)) {
    throw new RangeError(
      `The ${where} at ${observation.at} has latency ${latencyMs} ms, expected a finite number ≥ 0.`,
    );
  }
  if (latencyMs === undefined && !observation.error) {
    throw new RangeError(
      `The ${where} at ${observation.at} has no latency and is not an error: a request that was sent has a latency.`,
    );
  }
  const subject = { ...observation, source: "probe" as const };
  return [
    ...(latencyMs === undefined
      ? []
      : [{ metric: canaryMetric(namespace, subject, "Latency"), value: latencyMs, at }]),
    { metric: canaryMetric(namespace, subject, "Errors"), value: observation.error ? 1 : 0, at },
    { metric: canaryMetric(namespace, subject, "Requests"), value: 1, at },
  ];
}

/**
 * One sample per value of a window of real traffic, at the window's end. Throws a RangeError naming the
 * window when its timestamp or a value is not a usable number (CloudWatch refuses NaN and negatives here
 * make no sense).
 */
export function trafficSamples(period: TrafficPeriod, namespace: string): MetricSample[] {
  const at = Date.parse(period.at);
  const where = `${period.source} window of ${period.model} ${period.version} (${period.variant})`;
  if (!Number.isFinite(at)) {
    throw new RangeError(`The ${where} has timestamp '${period.at}', expected an ISO 8601 date-time.`);
  }
  const samples: MetricSample[] = [];
  for (const name of TRAFFIC_METRIC_NAMES) {
    const value = period.values[name];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(
        `The ${where} at ${period.at} has ${name} ${value}, expected a finite number ≥ 0.`,
      );
    }
    samples.push({ metric: canaryMetric(namespace, period, name), value, at });
  }
  return samples;
}
