// The canary's metrics — `Latency`, `Errors` and `Requests` by exactly `Model`, `Version` and `Variant` —
// defined once, so the alarms (canary-alarms.ts), the EMF records the prober writes (emf.ts) and the local
// metric store all name the same metric: CloudWatch matches dimensions exactly, and an alarm whose dimension
// set differs from the emitted one by a single key watches a metric that never gets data.

import type { Observation, Variant } from "../ports";
import type { MetricId } from "./alarm-spec";

export type CanaryMetricName = "Latency" | "Errors" | "Requests";

/** CloudWatch units, as EMF's MetricDefinition and PutMetricData name them. */
export const CANARY_METRIC_UNITS: Readonly<Record<CanaryMetricName, "Milliseconds" | "Count">> = {
  Latency: "Milliseconds",
  Errors: "Count",
  Requests: "Count",
};

/** The dimension keys of every canary metric, in the order EMF lists them. */
export const CANARY_DIMENSION_KEYS = ["Model", "Version", "Variant"] as const;

export interface CanaryMetricSubject {
  readonly model: string;
  readonly version: string;
  readonly variant: Variant;
}

/** The metric `name` of one version of a model, serving as `variant`. */
export function canaryMetric(
  namespace: string,
  subject: CanaryMetricSubject,
  name: CanaryMetricName,
): MetricId {
  return {
    namespace,
    metricName: name,
    dimensions: { Model: subject.model, Version: subject.version, Variant: subject.variant },
  };
}

/** One value of one metric at one instant (epoch milliseconds). */
export interface MetricSample {
  readonly metric: MetricId;
  readonly value: number;
  readonly at: number;
}

/**
 * What an observation contributes: its latency (if one was measured), 1 or 0 to `Errors` and 1 to
 * `Requests`, so `Sum` of the last two is the period's error and request counts whichever way the samples
 * travel (EMF or in-process). Throws a RangeError naming the observation when its timestamp or latency is
 * not a usable number.
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
  return [
    ...(latencyMs === undefined
      ? []
      : [{ metric: canaryMetric(namespace, observation, "Latency"), value: latencyMs, at }]),
    { metric: canaryMetric(namespace, observation, "Errors"), value: observation.error ? 1 : 0, at },
    { metric: canaryMetric(namespace, observation, "Requests"), value: 1, at },
  ];
}
