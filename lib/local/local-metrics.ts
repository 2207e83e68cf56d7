// The Metrics port on this machine: observations and windows of real traffic go into the in-process
// MetricSeries the local alarms read (as the metrics CloudWatch gets on AWS, lib/core/alarms/canary-metrics.ts), and the
// prober — an EventBridge Scheduler rate on AWS — is a timer per model version that runs a probe round at
// once and then every `everySeconds`. A round still running when the next is due is not doubled; a round
// that fails is logged and the next one runs as planned. Timers are unref'ed: a prober never keeps the
// process alive. `close()` stops every prober and waits for the rounds in flight.

import { request } from "undici";
import type { PrometheusEndpoint } from "../core/config/config";
import type { MetricSeries } from "../core/alarms/metric-series";
import {
  MAX_ANSWER_BYTES,
  PrometheusQueryFailed,
  prometheusQueryRequest,
  readPrometheusAnswer,
} from "../core/prometheus/prometheus-query";
import { describeNetworkError, readCappedText } from "../eval/http";
import { type MetricSample, observationSamples, trafficSamples } from "../core/alarms/canary-metrics";
import type { Metrics, Observation, ProberTarget, TrafficPeriod } from "../ports";

export interface LocalMetricsOptions {
  readonly series: MetricSeries;
  /** CloudWatch namespace the alarms name (`config.canaryMetrics.namespace`). */
  readonly namespace: string;
  /** One probe round: a few requests to the target's candidate and stable (the same code as the Lambda prober). */
  readonly probeRound: (target: ProberTarget) => Promise<void>;
  /** Where a failed round is told. */
  readonly log: (message: string) => void;
  /** The Prometheus real traffic is read from (config canaryMetrics.prometheus); locally a URL only. */
  readonly prometheus?: PrometheusEndpoint;
}

interface Prober {
  readonly target: ProberTarget;
  readonly timer: NodeJS.Timeout;
  inFlight?: Promise<void>;
}

/** Milliseconds a Prometheus query may take: a probe round lasts a few seconds. */
const QUERY_TIMEOUT_MS = 5_000;

export class LocalMetrics implements Metrics {
  private readonly options: LocalMetricsOptions;
  private readonly running = new Map<string, Prober>();
  /** Rounds running now, stopped probers' included: close() waits for them. */
  private readonly rounds = new Set<Promise<void>>();

  constructor(options: LocalMetricsOptions) {
    this.options = options;
  }

  /** Records every valid observation; then, if any was not, fails naming each of those. */
  async publish(observations: readonly Observation[]): Promise<void> {
    this.record(observations, "observation(s)", (o) => observationSamples(o, this.options.namespace));
  }

  /** Records every valid window of real traffic; then, if any was not, fails naming each of those. */
  async publishTraffic(periods: readonly TrafficPeriod[]): Promise<void> {
    this.record(periods, "traffic window(s)", (p) => trafficSamples(p, this.options.namespace));
  }

  /** One instant query to the configured Prometheus over plain HTTP (this machine has no cluster or AMP). */
  async queryPrometheus(query: string, at: Date): Promise<number | undefined> {
    const endpoint = this.options.prometheus;
    if (endpoint?.kind !== "url") {
      throw new PrometheusQueryFailed(
        endpoint
          ? `The local runtime reaches a Prometheus by URL only, not ${endpoint.kind}: set canaryMetrics.prometheus.endpoint to {"kind": "url", "url": "http://…"}.`
          : "The local config names no Prometheus (canaryMetrics.prometheus): real traffic is scraped from the servers.",
      );
    }
    const asked = prometheusQueryRequest(query, at);
    const url = new URL(`${endpoint.url.replace(/\/+$/, "")}${asked.path}`);
    for (const [name, value] of Object.entries(asked.query)) url.searchParams.set(name, value);
    try {
      const response = await request(url, {
        method: "GET",
        headers: asked.headers,
        signal: AbortSignal.timeout(QUERY_TIMEOUT_MS),
      });
      const text = await readCappedText(response.body, MAX_ANSWER_BYTES);
      return readPrometheusAnswer(response.statusCode, text, query);
    } catch (error) {
      if (error instanceof PrometheusQueryFailed) throw error;
      throw new PrometheusQueryFailed(`Asking ${url} failed: ${describeNetworkError(error)}`, {
        cause: error,
      });
    }
  }

  private record<T>(items: readonly T[], what: string, samplesOf: (item: T) => MetricSample[]): void {
    const problems: string[] = [];
    for (const item of items) {
      try {
        for (const sample of samplesOf(item)) {
          this.options.series.record(sample.metric, sample.value, sample.at);
        }
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    if (problems.length > 0) {
      throw new RangeError(
        `${problems.length} of ${items.length} ${what} could not be recorded:\n${problems.map((p) => `  ${p}`).join("\n")}`,
      );
    }
  }

  async startProber(target: ProberTarget): Promise<void> {
    const key = keyOf(target.model, target.version);
    const running = this.running.get(key);
    if (running?.target.everySeconds === target.everySeconds) return;
    if (running) clearInterval(running.timer);
    if (!(target.everySeconds > 0)) {
      throw new RangeError(
        `The prober of ${target.model} ${target.version} needs everySeconds > 0, got ${target.everySeconds}.`,
      );
    }
    const timer = setInterval(() => this.runRound(key), target.everySeconds * 1000);
    timer.unref();
    this.running.set(key, { target: { ...target }, timer });
    this.runRound(key);
  }

  async stopProber(model: string, version: string): Promise<void> {
    const key = keyOf(model, version);
    const prober = this.running.get(key);
    if (!prober) return;
    clearInterval(prober.timer);
    this.running.delete(key);
  }

  /** The probers running now, as they were started. */
  probers(): ProberTarget[] {
    return [...this.running.values()].map((prober) => ({ ...prober.target }));
  }

  /** Stops every prober and waits for the rounds still running. */
  async close(): Promise<void> {
    const probers = [...this.running.values()];
    this.running.clear();
    for (const prober of probers) clearInterval(prober.timer);
    await Promise.all(this.rounds);
  }

  private runRound(key: string): void {
    const prober = this.running.get(key);
    if (!prober || prober.inFlight) return;
    const { target } = prober;
    const round = Promise.resolve()
      .then(() => this.options.probeRound(target))
      .catch((error: unknown) => {
        this.options.log(
          `The probe round of ${target.model} ${target.version} (rollout ${target.rolloutId}) failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      })
      .finally(() => {
        prober.inFlight = undefined;
        this.rounds.delete(round);
      });
    prober.inFlight = round;
    this.rounds.add(round);
  }
}

function keyOf(model: string, version: string): string {
  return JSON.stringify([model, version]);
}
