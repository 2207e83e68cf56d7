// An in-memory metric store with CloudWatch's aggregation: timestamped values per metric (namespace, name
// and the exact dimension set), summarised per period with periods aligned as CloudWatch aligns them (a
// period starts at a multiple of its length since the epoch), by SampleCount, Sum, Average, Minimum,
// Maximum or a percentile `pNN.NN`. Memory is bounded by time: samples older than the retention window
// (behind the newest sample recorded) are dropped, so a long-running local runtime does not grow.
//
// Percentiles use the nearest-rank definition: pP of n sorted samples is the sample at rank ⌈P/100 · n⌉
// (p0 is the minimum). It always returns a value that was observed and guarantees at least P% of the samples
// are at or below it, which is what CloudWatch documents ("p95: 95% of the data in the period is lower than
// this value"); CloudWatch does not publish its interpolation, and with the few probe samples a canary period
// holds, an interpolated value would report latencies nobody saw.

import type { MetricId } from "./alarm-spec";

export type ParsedStatistic =
  | { readonly kind: "SampleCount" | "Sum" | "Average" | "Minimum" | "Maximum" }
  | { readonly kind: "percentile"; readonly percent: number };

const SIMPLE_STATISTICS = new Set(["SampleCount", "Sum", "Average", "Minimum", "Maximum"]);
/** CloudWatch's extended statistic: p0 to p100 with at most two decimals. */
const PERCENTILE = /^p(\d{1,3}(?:\.\d{1,2})?)$/;

/** A statistic as an alarm names it (`Sum`, `p95`, `p99.9`), or undefined when CloudWatch would refuse it. */
export function parseStatistic(text: string): ParsedStatistic | undefined {
  if (SIMPLE_STATISTICS.has(text)) return { kind: text as "Sum" };
  const match = PERCENTILE.exec(text);
  if (!match?.[1]) return undefined;
  const percent = Number(match[1]);
  return percent <= 100 ? { kind: "percentile", percent } : undefined;
}

/** One period's aggregate. */
export interface Datapoint {
  /** Epoch milliseconds of the period's start. */
  readonly start: number;
  readonly value: number;
  /** Samples in the period: a percentile over few samples is not significant. */
  readonly sampleCount: number;
}

export interface AggregateQuery {
  readonly statistic: string;
  readonly periodSeconds: number;
  /** Epoch milliseconds of the first period's start (a multiple of the period). */
  readonly firstPeriodStart: number;
  readonly periods: number;
}

interface Samples {
  /** Sorted ascending; entries before `head` were dropped and wait for compaction. */
  times: number[];
  values: number[];
  head: number;
}

const DEFAULT_RETENTION_SECONDS = 15 * 60;

export class MetricSeries {
  private readonly byMetric = new Map<string, Samples>();
  private retentionMs: number;
  private newest = Number.NEGATIVE_INFINITY;

  constructor(options: { readonly retentionSeconds?: number } = {}) {
    this.retentionMs = (options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS) * 1000;
  }

  /** Keeps at least this much history (an alarm's evaluation range needs it); never shortens it. */
  retainAtLeast(seconds: number): void {
    this.retentionMs = Math.max(this.retentionMs, seconds * 1000);
  }

  get retentionSeconds(): number {
    return this.retentionMs / 1000;
  }

  /** Adds one value of `metric` at `at` (epoch ms); a sample already outside the retention is dropped. */
  record(metric: MetricId, value: number, at: number): void {
    if (!Number.isFinite(value) || !Number.isFinite(at)) {
      throw new RangeError(
        `${describeMetric(metric)}: expected a finite value at a finite time, got ${value} at ${at}; CloudWatch refuses NaN and Infinity too.`,
      );
    }
    this.newest = Math.max(this.newest, at);
    const cutoff = this.newest - this.retentionMs;
    if (at < cutoff) return;
    const key = metricKey(metric);
    let samples = this.byMetric.get(key);
    if (!samples) {
      samples = { times: [], values: [], head: 0 };
      this.byMetric.set(key, samples);
    }
    const last = samples.times[samples.times.length - 1];
    if (last === undefined || at >= last) {
      samples.times.push(at);
      samples.values.push(value);
    } else {
      const index = firstIndexAfter(samples.times, at, samples.head);
      samples.times.splice(index, 0, at);
      samples.values.splice(index, 0, value);
    }
    this.dropOlderThan(cutoff);
  }

  /** Samples held now, over all metrics (for tests and diagnostics of the memory bound). */
  get size(): number {
    let total = 0;
    for (const samples of this.byMetric.values()) total += samples.times.length - samples.head;
    return total;
  }

  /**
   * `periods` consecutive periods of `metric` from `firstPeriodStart`, oldest first: each period's statistic,
   * or undefined where the period has no samples (CloudWatch reports no datapoint, not a zero).
   */
  aggregate(metric: MetricId, query: AggregateQuery): (Datapoint | undefined)[] {
    const statistic = parseStatistic(query.statistic);
    if (!statistic) {
      throw new RangeError(
        `${describeMetric(metric)}: unknown statistic '${query.statistic}'; expected SampleCount, Sum, Average, Minimum, Maximum or a percentile p0 to p100 (e.g. p95, p99.9).`,
      );
    }
    const periodMs = query.periodSeconds * 1000;
    const samples = this.byMetric.get(metricKey(metric));
    const result: (Datapoint | undefined)[] = [];
    for (let i = 0; i < query.periods; i++) {
      const start = query.firstPeriodStart + i * periodMs;
      if (!samples) {
        result.push(undefined);
        continue;
      }
      const from = firstIndexAtOrAfter(samples.times, start, samples.head);
      const to = firstIndexAtOrAfter(samples.times, start + periodMs, from);
      result.push(
        to > from
          ? { start, value: summarise(samples.values, from, to, statistic), sampleCount: to - from }
          : undefined,
      );
    }
    return result;
  }

  private dropOlderThan(cutoff: number): void {
    for (const [key, samples] of this.byMetric) {
      const first = samples.times[samples.head];
      if (first === undefined || first >= cutoff) continue;
      samples.head = firstIndexAtOrAfter(samples.times, cutoff, samples.head);
      if (samples.head === samples.times.length) {
        this.byMetric.delete(key);
      } else if (samples.head * 2 >= samples.times.length) {
        samples.times = samples.times.slice(samples.head);
        samples.values = samples.values.slice(samples.head);
        samples.head = 0;
      }
    }
  }
}

/** The start (epoch ms) of the period holding `at`: periods start at multiples of their length. */
export function periodStart(at: number, periodSeconds: number): number {
  const periodMs = periodSeconds * 1000;
  return Math.floor(at / periodMs) * periodMs;
}

/** `modelship/Latency{Model=llama, Variant=candidate, Version=v2}` */
function describeMetric(metric: MetricId): string {
  const dimensions = Object.entries(metric.dimensions)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join(", ");
  return `${metric.namespace}/${metric.metricName}{${dimensions}}`;
}

/** The nearest-rank percentile of an ascending-sorted, non-empty list. */
function nearestRankPercentile(sorted: readonly number[], percent: number): number {
  // percent · n / 100 is exact for the usual cases (95 · 20 / 100 = 19); the tolerance absorbs the rest.
  const rank = Math.max(1, Math.ceil((percent * sorted.length) / 100 - 1e-9));
  return sorted[Math.min(rank, sorted.length) - 1] ?? Number.NaN;
}

function summarise(values: readonly number[], from: number, to: number, statistic: ParsedStatistic): number {
  const count = to - from;
  switch (statistic.kind) {
    case "SampleCount":
      return count;
    case "Sum":
      return sum(values, from, to);
    case "Average":
      return sum(values, from, to) / count;
    case "Minimum":
      return extreme(values, from, to, (a, b) => a < b);
    case "Maximum":
      return extreme(values, from, to, (a, b) => a > b);
    case "percentile":
      return nearestRankPercentile(
        values.slice(from, to).sort((a, b) => a - b),
        statistic.percent,
      );
  }
}

function extreme(
  values: readonly number[],
  from: number,
  to: number,
  better: (a: number, b: number) => boolean,
): number {
  let best = values[from] ?? Number.NaN;
  for (let i = from + 1; i < to; i++) {
    const value = values[i] ?? best;
    if (better(value, best)) best = value;
  }
  return best;
}

function sum(values: readonly number[], from: number, to: number): number {
  let total = 0;
  for (let i = from; i < to; i++) total += values[i] ?? 0;
  return total;
}

/** The first index ≥ `from` whose time is ≥ `time` (binary search over sorted times). */
function firstIndexAtOrAfter(times: readonly number[], time: number, from: number): number {
  let low = from;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((times[middle] ?? Number.POSITIVE_INFINITY) < time) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The first index ≥ `from` whose time is > `time`: where a late sample goes, after its equals. */
function firstIndexAfter(times: readonly number[], time: number, from: number): number {
  let low = from;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((times[middle] ?? Number.POSITIVE_INFINITY) <= time) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Same namespace, name and dimension set (in any key order) → same key, as CloudWatch identifies metrics. */
function metricKey(metric: MetricId): string {
  const dimensions = Object.entries(metric.dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([metric.namespace, metric.metricName, dimensions]);
}
