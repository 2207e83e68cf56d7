// The numbers a person (or an SLO gate) reads from a load result: per-metric count, mean, p50/p90/p95/p99
// and max; request, token and good-request throughput over the measured time; errors by class and the
// error rate. Definitions in docs/loadgen.md.

import { HistogramSet, LATENCY_METRICS, type LatencyMetric, type MetricStats } from "./histogram-set";
import type { GoodputSlo, LoadResult } from "./load-result";

export interface LoadSummary {
  /** Measured requests: completed + failed (warm-up and cancelled ones apart). */
  readonly requests: number;
  readonly completed: number;
  readonly failed: number;
  readonly warmupRequests: number;
  readonly cancelled: number;
  readonly measuredSeconds: number;
  /** Completed requests per second of measured time. */
  readonly requestsPerSecond: number;
  readonly outputTokensPerSecond: number;
  readonly inputTokensPerSecond: number;
  /** Completed requests meeting every goodput SLO, per second; equals requestsPerSecond when none was given. */
  readonly goodputPerSecond: number;
  readonly goodputSlo: GoodputSlo;
  /** failed / requests; 0 when nothing was measured. */
  readonly errorRate: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly errorExamples: Readonly<Record<string, string>>;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly outputTokensFrom: { readonly usage: number; readonly counted: number };
  readonly inputTokensFrom: { readonly usage: number; readonly estimated: number };
  /** In milliseconds; a metric nothing was recorded for is absent. */
  readonly latency: Partial<Record<LatencyMetric, MetricStats>>;
  readonly stoppedEarly: boolean;
}

export function summarizeLoad(result: LoadResult): LoadSummary {
  const histograms = HistogramSet.deserialize(result.histograms);
  const c = result.counters;
  const perSecond = (n: number) => (result.measuredSeconds > 0 ? n / result.measuredSeconds : 0);
  const requests = c.completed + c.failed;
  const latency: Partial<Record<LatencyMetric, MetricStats>> = {};
  for (const metric of LATENCY_METRICS) {
    const stats = histograms.stats(metric);
    if (stats) latency[metric] = stats;
  }
  return {
    requests,
    completed: c.completed,
    failed: c.failed,
    warmupRequests: c.warmupRequests,
    cancelled: c.cancelled,
    measuredSeconds: result.measuredSeconds,
    requestsPerSecond: perSecond(c.completed),
    outputTokensPerSecond: perSecond(c.outputTokens),
    inputTokensPerSecond: perSecond(c.inputTokens),
    goodputPerSecond: perSecond(c.goodRequests),
    goodputSlo: result.goodputSlo,
    errorRate: requests > 0 ? c.failed / requests : 0,
    errors: c.errors,
    errorExamples: c.errorExamples,
    inputTokens: c.inputTokens,
    outputTokens: c.outputTokens,
    outputTokensFrom: c.outputTokensFrom,
    inputTokensFrom: c.inputTokensFrom,
    latency,
    stoppedEarly: result.stoppedEarly,
  };
}
