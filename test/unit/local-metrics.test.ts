// LocalMetrics: observations and windows of real traffic land in the metric series as the canary's alarms
// read them (by Model/Version/Variant/Source), queries go to a Prometheus by URL, and the prober — one timer
// per model version — runs a probe round at once and then every `everySeconds`, on fake time; failures are
// logged, never thrown into the void.

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { PrometheusEndpoint } from "../../lib/core/config/config";
import { canaryMetric } from "../../lib/core/alarms/canary-metrics";
import { MetricSeries } from "../../lib/core/alarms/metric-series";
import { LocalMetrics } from "../../lib/local/local-metrics";
import type { Observation, ProberTarget } from "../../lib/ports";
import { PrometheusTestServer, vectorAnswer } from "../support/prometheus-test-server";

const START = Date.parse("2026-03-01T12:00:00.000Z");
const opened: LocalMetrics[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((m) => m.close()));
  vi.useRealTimers();
});

function localMetrics(
  probeRound: (target: ProberTarget) => Promise<void> = async () => {},
  prometheus?: PrometheusEndpoint,
) {
  const series = new MetricSeries();
  const logged: string[] = [];
  const metrics = new LocalMetrics({
    series,
    namespace: "modelship",
    probeRound,
    log: (m) => void logged.push(m),
    ...(prometheus ? { prometheus } : {}),
  });
  opened.push(metrics);
  return { metrics, series, logged };
}

function target(version: string, everySeconds = 10): ProberTarget {
  return { model: "chat", version, rolloutId: `chat-${version}-00000000`, everySeconds };
}

function observation(overrides: Partial<Observation> = {}): Observation {
  return {
    model: "chat",
    version: "v2",
    variant: "candidate",
    latencyMs: 120,
    error: false,
    at: new Date(START + 1000).toISOString(),
    ...overrides,
  };
}

/** The Sum (or another statistic) of a canary metric over the first 10-second period. */
function statistic(
  series: MetricSeries,
  name: "Latency" | "Errors" | "Requests",
  stat = "Sum",
  variant = "candidate" as const,
) {
  const metric = canaryMetric("modelship", { model: "chat", version: "v2", variant, source: "probe" }, name);
  return series.aggregate(metric, {
    statistic: stat,
    periodSeconds: 10,
    firstPeriodStart: START,
    periods: 1,
  })[0]?.value;
}

describe("LocalMetrics.publish", () => {
  it("records each observation as Latency, Errors and Requests of its model, version and variant", async () => {
    const { metrics, series } = localMetrics();
    await metrics.publish([
      observation({ latencyMs: 100 }),
      observation({ latencyMs: 300, error: true }),
      observation({ latencyMs: 900, variant: "stable", version: "v1" }),
    ]);
    expect(statistic(series, "Requests")).toBe(2);
    expect(statistic(series, "Errors")).toBe(1);
    expect(statistic(series, "Latency", "Maximum")).toBe(300);
    const stable = canaryMetric(
      "modelship",
      { model: "chat", version: "v1", variant: "stable", source: "probe" },
      "Latency",
    );
    expect(
      series.aggregate(stable, {
        statistic: "Sum",
        periodSeconds: 10,
        firstPeriodStart: START,
        periods: 1,
      })[0]?.value,
    ).toBe(900);
  });

  it("records the valid observations of a batch and names every one it could not", async () => {
    const { metrics, series } = localMetrics();
    const publishing = metrics.publish([
      observation(),
      observation({ at: "yesterday" }),
      observation({ latencyMs: Number.NaN }),
    ]);
    await expect(publishing).rejects.toThrow("2 of 3 observation(s) could not be recorded");
    await expect(publishing).rejects.toThrow("timestamp 'yesterday'");
    await expect(publishing).rejects.toThrow("latency NaN ms");
    expect(statistic(series, "Requests")).toBe(1);
  });
});

describe("LocalMetrics prober", () => {
  it("runs a round at once and then every everySeconds", async () => {
    vi.useFakeTimers({ now: START });
    const rounds: string[] = [];
    const { metrics } = localMetrics(async (t) => void rounds.push(`${t.version}@${Date.now() - START}`));
    await metrics.startProber(target("v2", 10));
    await vi.advanceTimersByTimeAsync(0);
    expect(rounds).toEqual(["v2@0"]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(rounds).toEqual(["v2@0", "v2@10000", "v2@20000", "v2@30000"]);
  });

  it("is one prober per model version: starting it again changes nothing", async () => {
    vi.useFakeTimers({ now: START });
    const rounds: string[] = [];
    const { metrics } = localMetrics(async (t) => void rounds.push(t.version));
    await metrics.startProber(target("v2"));
    await metrics.startProber(target("v2"));
    await metrics.startProber(target("v3"));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rounds.filter((v) => v === "v2")).toHaveLength(2);
    expect(rounds.filter((v) => v === "v3")).toHaveLength(2);
  });

  it("stops a version's prober and leaves the others running; stopping twice is fine", async () => {
    vi.useFakeTimers({ now: START });
    const rounds: string[] = [];
    const { metrics } = localMetrics(async (t) => void rounds.push(t.version));
    await metrics.startProber(target("v2"));
    await metrics.startProber(target("v3"));
    await metrics.stopProber("chat", "v2");
    await metrics.stopProber("chat", "v2");
    await metrics.stopProber("chat", "never-started");
    rounds.length = 0;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(rounds).toEqual(["v3", "v3"]);
  });

  it("does not start a round while the last one still runs", async () => {
    vi.useFakeTimers({ now: START });
    let started = 0;
    let finish: () => void = () => {};
    const { metrics } = localMetrics(() => {
      started++;
      return new Promise<void>((resolve) => {
        finish = resolve;
      });
    });
    await metrics.startProber(target("v2", 10));
    await vi.advanceTimersByTimeAsync(35_000);
    expect(started).toBe(1);
    finish();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(started).toBe(2);
    finish();
  });

  it("logs a failed round, naming the model version, and runs the next one", async () => {
    vi.useFakeTimers({ now: START });
    let round = 0;
    const { metrics, logged } = localMetrics(async () => {
      if (++round === 1) throw new Error("connect ECONNREFUSED 127.0.0.1:8080");
    });
    await metrics.startProber(target("v2"));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(round).toBe(2);
    expect(logged).toEqual([
      "The probe round of chat v2 (rollout chat-v2-00000000) failed: connect ECONNREFUSED 127.0.0.1:8080",
    ]);
  });

  it("refuses a target without a positive interval", async () => {
    const { metrics } = localMetrics();
    await expect(metrics.startProber(target("v2", 0))).rejects.toThrow("needs everySeconds > 0, got 0");
  });

  it("closes: no round runs after, and a round in flight is waited for", async () => {
    vi.useFakeTimers({ now: START });
    let started = 0;
    let finish: () => void = () => {};
    const { metrics } = localMetrics(() => {
      started++;
      return new Promise<void>((resolve) => {
        finish = resolve;
      });
    });
    await metrics.startProber(target("v2"));
    await vi.advanceTimersByTimeAsync(0);
    let closed = false;
    const closing = metrics.close().then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(closed).toBe(false);
    finish();
    await closing;
    expect(closed).toBe(true);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(started).toBe(1);
  });

  it("never keeps the process alive: its timers are unref'ed", async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const { metrics } = localMetrics();
    await metrics.startProber(target("v2", 3600));
    await metrics.startProber(target("v3", 3600));
    expect(process.getActiveResourcesInfo().filter((r) => r === "Timeout").length).toBe(timersBefore);
  });
});

describe("LocalMetrics.publishTraffic", () => {
  it("records each value of a window of real traffic as its metric, with the window's Source", async () => {
    const { metrics, series } = localMetrics();
    await metrics.publishTraffic([
      {
        model: "chat",
        version: "v2",
        variant: "candidate",
        source: "traffic",
        at: new Date(START + 5000).toISOString(),
        values: { Requests: 12, LatencyP95: 840 },
      },
    ]);
    const read = (name: "Requests" | "LatencyP95") =>
      series.aggregate(
        canaryMetric(
          "modelship",
          { model: "chat", version: "v2", variant: "candidate", source: "traffic" },
          name,
        ),
        { statistic: "Maximum", periodSeconds: 10, firstPeriodStart: START, periods: 1 },
      )[0]?.value;
    expect([read("Requests"), read("LatencyP95")]).toEqual([12, 840]);
    expect(statistic(series, "Requests")).toBeUndefined();
  });
});

describe("LocalMetrics.queryPrometheus", () => {
  const prometheus = new PrometheusTestServer();
  let url = "";
  beforeAll(async () => {
    url = await prometheus.start();
  });
  afterAll(() => prometheus.stop());

  it("asks a Prometheus on this machine by URL for one number", async () => {
    prometheus.answer = () => ({ status: 200, body: vectorAnswer("3.25") });
    const { metrics } = localMetrics(undefined, { kind: "url", url });
    expect(await metrics.queryPrometheus("sum(up)", new Date(START))).toBe(3.25);
    expect(prometheus.requests.at(-1)?.params.get("query")).toBe("sum(up)");
  });

  it("refuses a Prometheus it cannot reach from this machine, and having none", async () => {
    const { metrics } = localMetrics(undefined, { kind: "amp", workspaceId: "ws-1" });
    await expect(metrics.queryPrometheus("up", new Date(START))).rejects.toThrow(
      "The local runtime reaches a Prometheus by URL only, not amp",
    );
    await expect(localMetrics().metrics.queryPrometheus("up", new Date(START))).rejects.toThrow(
      "The local config names no Prometheus",
    );
  });
});
