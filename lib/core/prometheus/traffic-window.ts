// Real traffic's values for one window, from the serving pods' own Prometheus counters: each probe round
// scrapes every pod of a version, and the increase of each counter and histogram bucket since the pod's
// previous scrape, summed over the version's pods, is that window's traffic. vLLM's metric names are read
// (vllm-metrics.ts); a server that exposes only some of them gives only those values.
//
// - Requests: the increase of `vllm:request_success_total` over every `finished_reason` (else the E2E
//   histogram's `_count`); Errors and Aborted: its `error` and `abort` reasons (vLLM counts a client that
//   went away as `abort`).
// - LatencyP95, TtftP95, ItlP95, QueueTimeP95 (milliseconds): `histogram_quantile(0.95, …)` over the
//   increase of each bucket (histogram-quantile.ts: Prometheus' own interpolation), of
//   `vllm:e2e_request_latency_seconds`, `vllm:time_to_first_token_seconds`,
//   `vllm:inter_token_latency_seconds` (older vLLM: `vllm:time_per_output_token_seconds`) and
//   `vllm:request_queue_time_seconds`; absent in a window without observations.
// - RequestsWaiting: `vllm:num_requests_waiting` now, summed over the pods (a gauge, not an increase).
// - ScrapeFailures: the pods whose metrics could not be read or understood.
//
// Never a made-up value: a pod seen for the first time (new, or restarted under a new name) or whose last
// scrape is older than `maxAgeMs` is only a baseline for the next window; a counter that went down, or a
// `process_start_time_seconds` that changed, means the server restarted, and its counters since are the
// increase (as Prometheus' `increase()` treats a reset); a pod that failed is a failure and loses its
// baseline (its next increase would span two windows); a pod gone since the last round is forgotten. A
// window in which no pod gave an increase has no Requests or percentiles — only its ScrapeFailures (and the
// gauge). Every such event is counted in the window's report.
//
// Memory is bounded: at most `maxPods` pods per version are read (more are failures), each parse keeps at
// most ExpositionLimits.maxSamples samples, and versions not seen for `maxAgeMs` × FORGET_AFTER_AGES are
// forgotten, at most MAX_VERSIONS kept.

import type { TrafficMetricName } from "../alarms/canary-metrics";
import { type HistogramBucket, histogramQuantile } from "./histogram-quantile";
import { VLLM } from "./vllm-metrics";
import {
  DEFAULT_EXPOSITION_LIMITS,
  type ExpositionLimits,
  type PromSample,
  parsePrometheusText,
} from "./prometheus-text";

const HISTOGRAMS = [VLLM.e2e, VLLM.ttft, VLLM.itl, VLLM.tpot, VLLM.queueTime] as const;
const COUNTER_NAMES = new Set<string>([
  VLLM.requestSuccess,
  ...HISTOGRAMS.flatMap((h) => [`${h}_bucket`, `${h}_count`]),
]);
const READ_NAMES = new Set<string>([...COUNTER_NAMES, VLLM.waiting, VLLM.startTime]);
const QUANTILE = 0.95;
/** Versions not seen for this many `maxAgeMs` are forgotten (their rollouts are over). */
const FORGET_AFTER_AGES = 10;
const MAX_VERSIONS = 256;
const MAX_PROBLEMS = 5;

/** One pod's `/metrics`, or why it could not be read. */
export interface PodScrape {
  readonly pod: string;
  readonly text?: string;
  readonly error?: string;
}

export interface WindowReport {
  /** Pods of the version this round. */
  readonly pods: number;
  /** Pods whose metrics could not be read or understood (ScrapeFailures). */
  readonly failed: number;
  /** Pods seen for the first time: a baseline only. */
  readonly newPods: number;
  /** Pods whose previous scrape was too old to take an increase over: a baseline only. */
  readonly stale: number;
  /** Pods whose server restarted since their previous scrape. */
  readonly resets: number;
  /** Pods of the previous round that are gone. */
  readonly vanished: number;
  /** Pods whose increase made this window's values. */
  readonly measured: number;
  /** What went wrong, in sentences, at most MAX_PROBLEMS. */
  readonly problems: readonly string[];
}

export interface TrafficWindow {
  readonly values: Readonly<Partial<Record<TrafficMetricName, number>>>;
  readonly report: WindowReport;
}

export interface TrafficWindowsOptions {
  /** A previous scrape older than this is not taken an increase over: about two probe periods. */
  readonly maxAgeMs: number;
  /** Pods read per version. Default 64. */
  readonly maxPods?: number;
  readonly limits?: ExpositionLimits;
}

/** What one pod showed at one scrape. */
interface PodReading {
  readonly at: number;
  readonly startTime?: number;
  /** Counter series → value; the key is the sample's name and labels. */
  readonly counters: Map<string, number>;
}

interface VersionMemory {
  seenAt: number;
  pods: Map<string, PodReading>;
}

/** The previous scrape of every pod of every version, from one round to the next. */
export class TrafficWindows {
  private readonly versions = new Map<string, VersionMemory>();
  private readonly maxAgeMs: number;
  private readonly maxPods: number;
  private readonly limits: ExpositionLimits;

  constructor(options: TrafficWindowsOptions) {
    this.maxAgeMs = options.maxAgeMs;
    this.maxPods = options.maxPods ?? 64;
    this.limits = options.limits ?? DEFAULT_EXPOSITION_LIMITS;
  }

  /** Versions remembered now (for tests of the memory bound). */
  get size(): number {
    return this.versions.size;
  }

  /**
   * The window of the version `key` (e.g. model, version and variant) ending at `at` (epoch ms), from this
   * round's scrapes of its pods; remembers them for the next round.
   */
  next(key: string, scrapes: readonly PodScrape[], at: number): TrafficWindow {
    this.forgetOld(at);
    const memory = this.versions.get(key) ?? { seenAt: at, pods: new Map<string, PodReading>() };
    const previous = memory.pods;
    const current = new Map<string, PodReading>();
    const increases: Map<string, number>[] = [];
    const problems: string[] = [];
    let failed = 0;
    let newPods = 0;
    let stale = 0;
    let resets = 0;
    let waiting: number | undefined;
    const fail = (pod: string, why: string) => {
      failed++;
      if (problems.length < MAX_PROBLEMS) problems.push(`pod ${pod}: ${why}`);
    };

    scrapes.forEach((scrape, index) => {
      if (index >= this.maxPods) {
        fail(scrape.pod, `not read: a version's first ${this.maxPods} pods are`);
        return;
      }
      if (scrape.text === undefined) {
        fail(scrape.pod, scrape.error ?? "no metrics");
        return;
      }
      let reading: PodReading & { readonly waiting?: number };
      try {
        reading = readPod(
          parsePrometheusText(scrape.text, (name) => READ_NAMES.has(name), this.limits),
          at,
        );
      } catch (error) {
        fail(
          scrape.pod,
          `its metrics could not be read: ${error instanceof Error ? error.message : String(error)}`,
        );
        return;
      }
      if (reading.waiting !== undefined) waiting = (waiting ?? 0) + reading.waiting;
      current.set(scrape.pod, {
        at: reading.at,
        ...(reading.startTime === undefined ? {} : { startTime: reading.startTime }),
        counters: reading.counters,
      });
      const before = previous.get(scrape.pod);
      if (!before) {
        newPods++;
        return;
      }
      if (at - before.at > this.maxAgeMs) {
        stale++;
        return;
      }
      const restarted =
        (before.startTime !== undefined &&
          reading.startTime !== undefined &&
          before.startTime !== reading.startTime) ||
        [...reading.counters].some(([series, value]) => value < (before.counters.get(series) ?? 0));
      if (restarted) resets++;
      const increase = new Map<string, number>();
      for (const [series, value] of reading.counters) {
        // A series new since the last scrape started at 0 in between; after a restart every counter did.
        increase.set(series, restarted ? value : value - (before.counters.get(series) ?? 0));
      }
      increases.push(increase);
    });
    const vanished = [...previous.keys()].filter((pod) => !scrapes.some((s) => s.pod === pod)).length;
    this.versions.delete(key);
    this.versions.set(key, { seenAt: at, pods: current });
    while (this.versions.size > MAX_VERSIONS) {
      const oldest = this.versions.keys().next().value;
      if (oldest === undefined) break;
      this.versions.delete(oldest);
    }

    const values: Partial<Record<TrafficMetricName, number>> = { ScrapeFailures: failed };
    if (waiting !== undefined) values.RequestsWaiting = waiting;
    if (increases.length > 0) Object.assign(values, windowValues(increases));
    return {
      values,
      report: {
        pods: scrapes.length,
        failed,
        newPods,
        stale,
        resets,
        vanished,
        measured: increases.length,
        problems,
      },
    };
  }

  private forgetOld(at: number): void {
    for (const [key, memory] of this.versions) {
      if (at - memory.seenAt > this.maxAgeMs * FORGET_AFTER_AGES) this.versions.delete(key);
    }
  }
}

/** The counters, the waiting gauge and the start time of one pod's samples. */
function readPod(samples: readonly PromSample[], at: number): PodReading & { readonly waiting?: number } {
  const counters = new Map<string, number>();
  let waiting: number | undefined;
  let startTime: number | undefined;
  for (const sample of samples) {
    if (sample.name === VLLM.waiting) {
      if (Number.isFinite(sample.value)) waiting = (waiting ?? 0) + sample.value;
    } else if (sample.name === VLLM.startTime) {
      startTime = sample.value;
    } else if (COUNTER_NAMES.has(sample.name)) {
      if (!Number.isFinite(sample.value) || sample.value < 0) {
        throw new Error(`${sample.name} is ${sample.value}; a counter is a finite number ≥ 0`);
      }
      const key = seriesKey(sample);
      counters.set(key, (counters.get(key) ?? 0) + sample.value);
    }
  }
  return {
    at,
    counters,
    ...(waiting === undefined ? {} : { waiting }),
    ...(startTime === undefined ? {} : { startTime }),
  };
}

/** The window's values from each measured pod's increases. */
function windowValues(increases: readonly Map<string, number>[]): Partial<Record<TrafficMetricName, number>> {
  const values: Partial<Record<TrafficMetricName, number>> = {};
  const byReason = new Map<string, number>();
  let sawRequestCounter = false;
  const buckets = new Map<string, Map<number, number>>();
  const counts = new Map<string, number>();
  for (const increase of increases) {
    for (const [key, delta] of increase) {
      const { name, labels } = JSON.parse(key) as { name: string; labels: Record<string, string> };
      if (name === VLLM.requestSuccess) {
        sawRequestCounter = true;
        const reason = labels["finished_reason"] ?? "";
        byReason.set(reason, (byReason.get(reason) ?? 0) + delta);
      } else if (name.endsWith("_bucket")) {
        const family = name.slice(0, -"_bucket".length);
        const upperBound = parseBound(labels["le"]);
        if (upperBound === undefined) continue;
        const family_ = buckets.get(family) ?? new Map<number, number>();
        buckets.set(family, family_);
        family_.set(upperBound, (family_.get(upperBound) ?? 0) + delta);
      } else if (name.endsWith("_count")) {
        const family = name.slice(0, -"_count".length);
        counts.set(family, (counts.get(family) ?? 0) + delta);
      }
    }
  }
  const total = (reasons: Map<string, number>) => [...reasons.values()].reduce((a, b) => a + b, 0);
  if (sawRequestCounter) {
    values.Requests = total(byReason);
    if (byReason.has("error")) values.Errors = byReason.get("error");
    if (byReason.has("abort")) values.Aborted = byReason.get("abort");
  } else if (counts.has(VLLM.e2e)) {
    values.Requests = counts.get(VLLM.e2e);
  }
  const p95 = (family: string): number | undefined => {
    const layout = buckets.get(family);
    if (!layout) return undefined;
    const list: HistogramBucket[] = [...layout].map(([upperBound, count]) => ({ upperBound, count }));
    const seconds = histogramQuantile(QUANTILE, list);
    return Number.isFinite(seconds) ? round(seconds * 1000) : undefined;
  };
  const put = (metric: TrafficMetricName, value: number | undefined) => {
    if (value !== undefined) values[metric] = value;
  };
  put("LatencyP95", p95(VLLM.e2e));
  put("TtftP95", p95(VLLM.ttft));
  put("ItlP95", buckets.has(VLLM.itl) ? p95(VLLM.itl) : p95(VLLM.tpot));
  put("QueueTimeP95", p95(VLLM.queueTime));
  return values;
}

/** A sample's identity: its name and labels in a fixed order (`le` included). */
function seriesKey(sample: PromSample): string {
  const labels = Object.fromEntries(
    Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return JSON.stringify({ name: sample.name, labels });
}

function parseBound(le: string | undefined): number | undefined {
  if (le === undefined) return undefined;
  if (le === "+Inf" || le === "Inf" || le === "inf" || le === "+inf") return Number.POSITIVE_INFINITY;
  const value = Number(le);
  return Number.isFinite(value) ? value : undefined;
}

/** Milliseconds to a microsecond: no binary noise in what CloudWatch shows. */
function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
