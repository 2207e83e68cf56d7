import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MetricAlarmSpec, MetricId } from "../../lib/core/alarms/alarm-spec";
import { AlarmBook } from "../../lib/core/alarms/alarm-evaluator";
import { alarmWatches, canaryAlarmSpecs } from "../../lib/core/alarms/canary-alarms";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { ALARM_SOURCES, type AlarmSources } from "../../lib/core/manifest/manifest-schema";
import { MetricSeries } from "../../lib/core/alarms/metric-series";
import { ARMED_AT, canarySpecs } from "../support/canary-alarm-specs";

function metricSpec(specs: ReturnType<typeof canarySpecs>["specs"], name: string): MetricAlarmSpec {
  const spec = specs.find((s) => s.name === name);
  if (spec?.kind !== "metric") throw new Error(`no metric alarm ${name}`);
  return spec;
}

const sources = (source: AlarmSources[keyof AlarmSources]): AlarmSources => ({
  latencyP95Ms: source,
  errorRate: source,
  vsStable: source,
});

function metric(metricName: string, version: string, variant: string, source: string): MetricId {
  return {
    namespace: "modelship",
    metricName,
    dimensions: { Model: "llama", Version: version, Variant: variant, Source: source },
  };
}
const candidate = (name: string, source: string) => metric(name, "v2", "candidate", source);
const stable = (name: string, source: string) => metric(name, "v1", "stable", source);
const stat = (id: string, m: MetricId, statName: string, periodSeconds = 10) => ({
  id,
  metricStat: { metric: m, periodSeconds, stat: statName },
  returnData: false,
});

describe("canaryAlarmSpecs for a first release, with the default source (auto)", () => {
  const { specs, compositeName, alarmNames } = canarySpecs();

  it("watches the candidate's p95 latency and error rate, guards against missing probes, with one composite over them", () => {
    expect(alarmNames).toEqual([
      "modelship-llama-v2-latency-p95",
      "modelship-llama-v2-error-rate",
      "modelship-llama-v2-no-probe-data",
      "modelship-llama-v2-rollback",
    ]);
    expect(compositeName).toBe("modelship-llama-v2-rollback");
    expect(specs.map((s) => s.kind)).toEqual(["metric", "metric", "metric", "composite"]);
  });

  it("takes real traffic's p95 in a period with at least minRequests requests, the probes' p95 otherwise", () => {
    expect(metricSpec(specs, "modelship-llama-v2-latency-p95")).toEqual({
      kind: "metric",
      name: "modelship-llama-v2-latency-p95",
      description:
        "p95 latency of llama v2 (real traffic in periods with at least 20 requests, else the prober's chats) above 2000 ms for 3 of 3 10-second periods",
      threshold: 2000,
      comparison: "GreaterThanThreshold",
      periodSeconds: 10,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: "notBreaching",
      metrics: [
        stat("traffic_requests", candidate("Requests", "traffic"), "Sum"),
        stat("traffic_p95", candidate("LatencyP95", "traffic"), "Maximum"),
        stat("probe_p95", candidate("Latency", "probe"), "p95"),
        {
          id: "latency_p95",
          expression: "IF(traffic_requests >= TIME_SERIES(20), traffic_p95, probe_p95)",
          label: "p95 latency of llama v2 (ms)",
          returnData: true,
        },
      ],
    });
  });

  it("takes real traffic's error rate the same way, and never makes up a rate for a period without requests", () => {
    const spec = metricSpec(specs, "modelship-llama-v2-error-rate");
    expect(spec.description).toBe(
      "error rate of llama v2 (real traffic in periods with at least 20 requests, else the prober's chats) above 2% for 3 of 3 10-second periods",
    );
    expect(spec.threshold).toBe(2);
    expect(spec.metric).toBeUndefined();
    expect(spec.metrics).toEqual([
      stat("traffic_errors", candidate("Errors", "traffic"), "Sum"),
      stat("traffic_requests", candidate("Requests", "traffic"), "Sum"),
      stat("probe_errors", candidate("Errors", "probe"), "Sum"),
      stat("probe_requests", candidate("Requests", "probe"), "Sum"),
      {
        id: "probe_rate",
        expression: "IF(probe_requests > 0, 100 * probe_errors / probe_requests)",
        label: "error rate of the probes (%)",
        returnData: false,
      },
      {
        id: "error_rate",
        expression:
          "IF(traffic_requests >= TIME_SERIES(20), 100 * traffic_errors / traffic_requests, probe_rate)",
        label: "error rate of llama v2 (%)",
        returnData: true,
      },
    ]);
  });

  it("guards against missing probes: fewer than half the planned requests in two whole minutes after the prober has surely started", () => {
    expect(metricSpec(specs, "modelship-llama-v2-no-probe-data")).toEqual({
      kind: "metric",
      name: "modelship-llama-v2-no-probe-data",
      description:
        "the prober sent llama v2 fewer than 6 of its 12 requests per 1-minute period for 2 periods in a row, from 2025-06-01T12:03:00.000Z on",
      threshold: 6,
      comparison: "LessThanThreshold",
      periodSeconds: 60,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: "notBreaching",
      metrics: [
        stat("requests", candidate("Requests", "probe"), "Sum", 60),
        {
          id: "probe_requests",
          // 12:00:07 + 120 s = 12:02:07, so the first whole minute judged starts at 12:03:00.
          expression: "IF(EPOCH(requests) >= 1748779380, requests + TIME_SERIES(0))",
          label: "probe requests to llama v2 per period",
          returnData: true,
        },
      ],
    });
  });

  it("sizes the guard by the probe plan and keeps its period at least a minute", () => {
    const guard = (prober: { everySeconds: number; requestsPerRound: number }, periodSeconds: number) =>
      metricSpec(
        canarySpecs({ prober, alarms: { periodSeconds } }).specs,
        "modelship-llama-v2-no-probe-data",
      );
    expect(guard({ everySeconds: 2, requestsPerRound: 2 }, 10)).toMatchObject({
      threshold: 30,
      periodSeconds: 60,
    });
    expect(guard({ everySeconds: 60, requestsPerRound: 1 }, 10)).toMatchObject({
      threshold: 1,
      periodSeconds: 60,
    });
    expect(guard({ everySeconds: 10, requestsPerRound: 2 }, 300)).toMatchObject({
      threshold: 30,
      periodSeconds: 300,
    });
  });

  it("has no relative alarms: there is no stable to compare with", () => {
    expect(alarmNames.some((name) => name.includes("vs-stable"))).toBe(false);
  });

  it("rolls back on any of its alarms, in a rule CloudWatch accepts", () => {
    expect(specs.at(-1)).toEqual({
      kind: "composite",
      name: "modelship-llama-v2-rollback",
      description:
        "Rolls llama v2 back when any of its canary alarms fires: p95 latency of llama v2 (real traffic in periods with at least 20 requests, else the prober's chats) above 2000 ms; error rate of llama v2 (real traffic in periods with at least 20 requests, else the prober's chats) above 2%; the prober sent llama v2 fewer than 6 of its 12 requests per 1-minute period for 2 periods in a row, from 2025-06-01T12:03:00.000Z on.",
      rule: 'ALARM("modelship-llama-v2-latency-p95") OR ALARM("modelship-llama-v2-error-rate") OR ALARM("modelship-llama-v2-no-probe-data")',
    });
  });
});

describe("canaryAlarmSpecs: each alarm watches its source", () => {
  it("probe: the prober's own latency samples and counts", () => {
    const { specs, alarmNames } = canarySpecs({ alarms: { sources: sources("probe") } });
    expect(alarmNames).toEqual([
      "modelship-llama-v2-latency-p95-probe",
      "modelship-llama-v2-error-rate-probe",
      "modelship-llama-v2-no-probe-data",
      "modelship-llama-v2-rollback",
    ]);
    expect(metricSpec(specs, "modelship-llama-v2-latency-p95-probe").metric).toEqual({
      ...candidate("Latency", "probe"),
      extendedStatistic: "p95",
    });
    expect(metricSpec(specs, "modelship-llama-v2-error-rate-probe").metrics).toEqual([
      stat("errors", candidate("Errors", "probe"), "Sum"),
      stat("requests", candidate("Requests", "probe"), "Sum"),
      {
        id: "error_rate",
        expression: "IF(requests > 0, 100 * errors / requests)",
        label: "error rate of llama v2 (%)",
        returnData: true,
      },
    ]);
  });

  it("traffic: the worst window's p95 of real traffic, and an alarm for when its metrics cannot be read", () => {
    const { specs, alarmNames } = canarySpecs({ alarms: { sources: sources("traffic") } });
    expect(alarmNames).toEqual([
      "modelship-llama-v2-latency-p95-traffic",
      "modelship-llama-v2-error-rate-traffic",
      "modelship-llama-v2-no-probe-data",
      "modelship-llama-v2-traffic-unreadable",
      "modelship-llama-v2-rollback",
    ]);
    const latency = metricSpec(specs, "modelship-llama-v2-latency-p95-traffic");
    expect(latency.description).toBe(
      "p95 latency of llama v2 (real traffic) above 2000 ms for 3 of 3 10-second periods",
    );
    expect(latency.metric).toEqual({ ...candidate("LatencyP95", "traffic"), statistic: "Maximum" });
    expect(metricSpec(specs, "modelship-llama-v2-error-rate-traffic").metrics?.[0]).toEqual(
      stat("errors", candidate("Errors", "traffic"), "Sum"),
    );
    expect(metricSpec(specs, "modelship-llama-v2-traffic-unreadable")).toEqual({
      kind: "metric",
      name: "modelship-llama-v2-traffic-unreadable",
      description:
        "the metrics of llama v2's real traffic (its pods' /metrics) could not be read for 3 of 3 10-second periods",
      threshold: 0,
      comparison: "GreaterThanThreshold",
      periodSeconds: 10,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: "notBreaching",
      metric: { ...candidate("ScrapeFailures", "traffic"), statistic: "Sum" },
    });
  });

  it("both: one alarm on each source under the same composite", () => {
    const { alarmNames } = canarySpecs({ alarms: { sources: sources("both") } });
    expect(alarmNames).toEqual([
      "modelship-llama-v2-latency-p95-probe",
      "modelship-llama-v2-latency-p95-traffic",
      "modelship-llama-v2-error-rate-probe",
      "modelship-llama-v2-error-rate-traffic",
      "modelship-llama-v2-no-probe-data",
      "modelship-llama-v2-traffic-unreadable",
      "modelship-llama-v2-rollback",
    ]);
  });

  it("names Source prometheus when the stack reads real traffic from its Prometheus", () => {
    const { specs } = canarySpecs({ trafficSource: "prometheus", alarms: { sources: sources("traffic") } });
    expect(metricSpec(specs, "modelship-llama-v2-latency-p95-traffic").metric?.dimensions.Source).toBe(
      "prometheus",
    );
    expect(metricSpec(specs, "modelship-llama-v2-traffic-unreadable").description).toContain(
      "(the stack's Prometheus)",
    );
  });

  it("alarms on real traffic's p95 time to first token when the manifest sets ttftP95Ms", () => {
    const { specs, alarmNames } = canarySpecs({ alarms: { ttftP95Ms: 800 } });
    expect(alarmNames).toContain("modelship-llama-v2-traffic-unreadable");
    expect(metricSpec(specs, "modelship-llama-v2-ttft-p95")).toMatchObject({
      description:
        "p95 time to first token of llama v2 (real traffic) above 800 ms for 3 of 3 10-second periods",
      threshold: 800,
      metric: { ...candidate("TtftP95", "traffic"), statistic: "Maximum" },
    });
  });
});

describe("canaryAlarmSpecs beside a stable version", () => {
  const { specs, alarmNames } = canarySpecs({ stableVersion: "v1" });

  it("adds the latency ratio and error-rate difference against the stable, under the same composite", () => {
    expect(alarmNames).toEqual([
      "modelship-llama-v2-latency-p95",
      "modelship-llama-v2-error-rate",
      "modelship-llama-v2-latency-vs-stable",
      "modelship-llama-v2-errors-vs-stable",
      "modelship-llama-v2-no-probe-data",
      "modelship-llama-v2-rollback",
    ]);
    expect(specs.at(-1)).toMatchObject({
      rule: 'ALARM("modelship-llama-v2-latency-p95") OR ALARM("modelship-llama-v2-error-rate") OR ALARM("modelship-llama-v2-latency-vs-stable") OR ALARM("modelship-llama-v2-errors-vs-stable") OR ALARM("modelship-llama-v2-no-probe-data")',
    });
  });

  it("compares real traffic's p95s when both versions served minRequests, the probes' otherwise", () => {
    const spec = metricSpec(specs, "modelship-llama-v2-latency-vs-stable");
    expect(spec.description).toBe(
      "p95 latency of llama v2 more than 1.25× that of v1 (real traffic in periods with at least 20 requests, else the prober's chats) for 3 of 3 10-second periods",
    );
    expect(spec.threshold).toBe(1.25);
    expect(spec.metrics).toEqual([
      stat("candidate_traffic_requests", candidate("Requests", "traffic"), "Sum"),
      stat("stable_traffic_requests", stable("Requests", "traffic"), "Sum"),
      stat("candidate_traffic_p95", candidate("LatencyP95", "traffic"), "Maximum"),
      stat("stable_traffic_p95", stable("LatencyP95", "traffic"), "Maximum"),
      stat("candidate_probe_p95", candidate("Latency", "probe"), "p95"),
      stat("stable_probe_p95", stable("Latency", "probe"), "p95"),
      {
        id: "latency_ratio",
        expression:
          "IF(candidate_traffic_requests >= TIME_SERIES(20) AND stable_traffic_requests >= TIME_SERIES(20), candidate_traffic_p95 / stable_traffic_p95, candidate_probe_p95 / stable_probe_p95)",
        label: "p95 latency of v2 / v1",
        returnData: true,
      },
    ]);
  });

  it("compares the error rates in percentage points, only where the stable served requests", () => {
    const spec = metricSpec(specs, "modelship-llama-v2-errors-vs-stable");
    expect(spec.description).toBe(
      "error rate of llama v2 more than 1 percentage point above v1's (real traffic in periods with at least 20 requests, else the prober's chats) for 3 of 3 10-second periods",
    );
    expect(spec.threshold).toBe(1);
    expect(spec.metrics?.filter((q) => q.expression).map((q) => [q.id, q.expression, q.returnData])).toEqual([
      [
        "candidate_traffic_rate",
        "IF(candidate_traffic_requests > 0, 100 * candidate_traffic_errors / candidate_traffic_requests)",
        false,
      ],
      [
        "stable_traffic_rate",
        "IF(stable_traffic_requests > 0, 100 * stable_traffic_errors / stable_traffic_requests)",
        false,
      ],
      [
        "traffic_delta",
        "IF(stable_traffic_requests > 0, candidate_traffic_rate - stable_traffic_rate)",
        false,
      ],
      [
        "candidate_probe_rate",
        "IF(candidate_probe_requests > 0, 100 * candidate_probe_errors / candidate_probe_requests)",
        false,
      ],
      [
        "stable_probe_rate",
        "IF(stable_probe_requests > 0, 100 * stable_probe_errors / stable_probe_requests)",
        false,
      ],
      ["probe_delta", "IF(stable_probe_requests > 0, candidate_probe_rate - stable_probe_rate)", false],
      [
        "error_rate_delta",
        "IF(candidate_traffic_requests >= TIME_SERIES(20) AND stable_traffic_requests >= TIME_SERIES(20), traffic_delta, probe_delta)",
        true,
      ],
    ]);
    expect(spec.metrics?.filter((q) => q.metricStat)).toHaveLength(8);
  });

  it("compares one source's values when the manifest names it", () => {
    const { specs: probeSpecs } = canarySpecs({ stableVersion: "v1", alarms: { sources: sources("probe") } });
    expect(
      metricSpec(probeSpecs, "modelship-llama-v2-latency-vs-stable-probe").metrics?.map(
        (q) => q.expression ?? q.id,
      ),
    ).toEqual(["candidate_probe_p95", "stable_probe_p95", "candidate_probe_p95 / stable_probe_p95"]);
    expect(
      metricSpec(probeSpecs, "modelship-llama-v2-errors-vs-stable-probe").metrics?.find((q) => q.returnData),
    ).toEqual({
      id: "error_rate_delta",
      expression: "IF(stable_probe_requests > 0, candidate_probe_rate - stable_probe_rate)",
      label: "error rate of v2 minus v1 (percentage points)",
      returnData: true,
    });
  });

  it("leaves the relative alarms out when the manifest sets no vsStable", () => {
    expect(canarySpecs({ stableVersion: "v1", alarms: { vsStable: undefined } }).alarmNames).toEqual([
      "modelship-llama-v2-latency-p95",
      "modelship-llama-v2-error-rate",
      "modelship-llama-v2-no-probe-data",
      "modelship-llama-v2-rollback",
    ]);
  });
});

describe("canaryAlarmSpecs: what the specs carry", () => {
  it("uses exactly the dimensions Model, Version, Variant and Source on every metric", () => {
    for (const spec of canarySpecs({ stableVersion: "v1", alarms: { ttftP95Ms: 500 } }).specs) {
      if (spec.kind !== "metric") continue;
      const metrics = spec.metric
        ? [spec.metric]
        : (spec.metrics ?? []).flatMap((q) => (q.metricStat ? [q.metricStat.metric] : []));
      for (const m of metrics) {
        expect(Object.keys(m.dimensions).sort()).toEqual(["Model", "Source", "Variant", "Version"]);
        expect(m.namespace).toBe("modelship");
      }
    }
  });

  it("takes period, M of N and missing-data treatment from the manifest, for every alarm but the no-data guard", () => {
    const { specs } = canarySpecs({
      stableVersion: "v1",
      alarms: {
        periodSeconds: 60,
        datapointsToAlarm: 2,
        evaluationPeriods: 5,
        treatMissingData: "breaching",
      },
    });
    for (const spec of specs) {
      if (spec.kind !== "metric" || spec.name.endsWith("-no-probe-data")) continue;
      expect(spec).toMatchObject({
        periodSeconds: 60,
        datapointsToAlarm: 2,
        evaluationPeriods: 5,
        treatMissingData: "breaching",
      });
      expect(spec.description).toMatch(/ for 2 of 5 1-minute periods$/);
      for (const query of spec.metrics ?? [])
        if (query.metricStat) expect(query.metricStat.periodSeconds).toBe(60);
    }
  });

  it("states percentages without binary noise", () => {
    const spec = metricSpec(
      canarySpecs({ alarms: { errorRate: 0.07 } }).specs,
      "modelship-llama-v2-error-rate",
    );
    expect(spec.threshold).toBe(7);
    expect(spec.description).toContain("above 7%");
  });

  it("produces specs the in-process evaluator accepts as CloudWatch would, for every source and option", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALARM_SOURCES),
        fc.constantFrom(...ALARM_SOURCES),
        fc.constantFrom(...ALARM_SOURCES),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom("traffic" as const, "prometheus" as const),
        (latencyP95Ms, errorRate, vsStable, ttft, beside, trafficSource) => {
          const { specs } = canarySpecs({
            ...(beside ? { stableVersion: "v1" } : {}),
            trafficSource,
            alarms: { sources: { latencyP95Ms, errorRate, vsStable }, ...(ttft ? { ttftP95Ms: 700 } : {}) },
          });
          expect(() => new AlarmBook(new MetricSeries()).put(specs, ARMED_AT)).not.toThrow();
        },
      ),
      { numRuns: 200 },
    );
  });

  it("names every alarm within CloudWatch's 255 characters, for any valid model and version", () => {
    const model = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
    const version = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
    fc.assert(
      fc.property(model, version, version, (m, v, s) => {
        const { alarmNames, compositeName, specs } = canarySpecs({
          model: m,
          version: v,
          stableVersion: s,
          alarms: { sources: sources("both"), ttftP95Ms: 900 },
        });
        for (const name of alarmNames) {
          expect(name.length).toBeLessThanOrEqual(255);
          expect(name.startsWith(`modelship-${m}-${v}-`)).toBe(true);
        }
        for (const spec of specs) expect(spec.description.length).toBeLessThanOrEqual(1024);
        expect(compositeName).toBe(`modelship-${m}-${v}-rollback`);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a model or version that could break an alarm name or the composite's rule", () => {
    const input = {
      model: "llama",
      version: "v2",
      alarms: DEFAULT_STACK_CONFIG.defaults.rollout.alarms,
      namespace: "modelship",
      trafficSource: "traffic" as const,
      prober: { everySeconds: 10, requestsPerRound: 2 },
      armedAt: ARMED_AT,
    };
    expect(() => canaryAlarmSpecs({ ...input, version: 'v2") OR TRUE OR ("' })).toThrow(
      /Cannot name the canary alarms after version 'v2"\) OR TRUE OR \("'/,
    );
    expect(() => canaryAlarmSpecs({ ...input, model: "Llama" })).toThrow(/after model 'Llama'/);
    expect(() => canaryAlarmSpecs({ ...input, stableVersion: "v 1" })).toThrow(/after stable version 'v 1'/);
  });
});

describe("alarmWatches", () => {
  it("tells from an alarm's name what it watches, for every alarm canaryAlarmSpecs makes", () => {
    const both = canarySpecs({ stableVersion: "v1", alarms: { sources: sources("both"), ttftP95Ms: 500 } });
    const auto = canarySpecs({ stableVersion: "v1" });
    expect(
      Object.fromEntries([...both.alarmNames, ...auto.alarmNames].map((n) => [n, alarmWatches(n)])),
    ).toEqual({
      "modelship-llama-v2-latency-p95-probe": "probe",
      "modelship-llama-v2-latency-p95-traffic": "traffic",
      "modelship-llama-v2-error-rate-probe": "probe",
      "modelship-llama-v2-error-rate-traffic": "traffic",
      "modelship-llama-v2-ttft-p95": "traffic",
      "modelship-llama-v2-latency-vs-stable-probe": "probe",
      "modelship-llama-v2-latency-vs-stable-traffic": "traffic",
      "modelship-llama-v2-errors-vs-stable-probe": "probe",
      "modelship-llama-v2-errors-vs-stable-traffic": "traffic",
      "modelship-llama-v2-no-probe-data": "probe",
      "modelship-llama-v2-traffic-unreadable": "traffic",
      "modelship-llama-v2-rollback": "composite",
      "modelship-llama-v2-latency-p95": "auto",
      "modelship-llama-v2-error-rate": "auto",
      "modelship-llama-v2-latency-vs-stable": "auto",
      "modelship-llama-v2-errors-vs-stable": "auto",
    });
    expect(alarmWatches("someone-elses-alarm")).toBeUndefined();
  });
});
