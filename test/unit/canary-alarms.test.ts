import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MetricAlarmSpec } from "../../lib/core/alarm-spec";
import { AlarmBook } from "../../lib/core/alarm-evaluator";
import { canaryAlarmSpecs } from "../../lib/core/canary-alarms";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config";
import type { ResolvedAlarms } from "../../lib/core/manifest-schema";
import { MetricSeries } from "../../lib/core/metric-series";

const ALARMS: ResolvedAlarms = {
  latencyP95Ms: 2000,
  errorRate: 0.02,
  vsStable: { latencyP95Ratio: 1.25, errorRateDelta: 0.01 },
  periodSeconds: 10,
  datapointsToAlarm: 3,
  evaluationPeriods: 3,
  treatMissingData: "notBreaching",
};

function canary(overrides: { stableVersion?: string; alarms?: Partial<ResolvedAlarms> } = {}) {
  return canaryAlarmSpecs({
    model: "llama",
    version: "v2",
    ...(overrides.stableVersion === undefined ? {} : { stableVersion: overrides.stableVersion }),
    alarms: { ...ALARMS, ...overrides.alarms },
    namespace: "modelship",
  });
}

function metricSpec(specs: ReturnType<typeof canary>["specs"], name: string): MetricAlarmSpec {
  const spec = specs.find((s) => s.name === name);
  if (spec?.kind !== "metric") throw new Error(`no metric alarm ${name}`);
  return spec;
}

const candidate = { Model: "llama", Version: "v2", Variant: "candidate" };
const stable = { Model: "llama", Version: "v1", Variant: "stable" };

describe("canaryAlarmSpecs for a first release", () => {
  const { specs, compositeName, alarmNames } = canary();

  it("watches the candidate's p95 latency and error rate, with one composite over them", () => {
    expect(alarmNames).toEqual([
      "modelship-llama-v2-latency-p95",
      "modelship-llama-v2-error-rate",
      "modelship-llama-v2-rollback",
    ]);
    expect(compositeName).toBe("modelship-llama-v2-rollback");
    expect(specs.map((s) => s.kind)).toEqual(["metric", "metric", "composite"]);
  });

  it("alarms on p95 Latency of the candidate above latencyP95Ms, M of N and missing data from the manifest", () => {
    expect(metricSpec(specs, "modelship-llama-v2-latency-p95")).toEqual({
      kind: "metric",
      name: "modelship-llama-v2-latency-p95",
      description: "p95 latency of llama v2 above 2000 ms for 3 of 3 10-second periods",
      threshold: 2000,
      comparison: "GreaterThanThreshold",
      periodSeconds: 10,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: "notBreaching",
      metric: {
        namespace: "modelship",
        metricName: "Latency",
        dimensions: candidate,
        extendedStatistic: "p95",
      },
    });
  });

  it("alarms on the error rate in percent, as metric math over the Errors and Requests sums", () => {
    const spec = metricSpec(specs, "modelship-llama-v2-error-rate");
    expect(spec.description).toBe("error rate of llama v2 above 2% for 3 of 3 10-second periods");
    expect(spec.threshold).toBe(2);
    expect(spec.metric).toBeUndefined();
    expect(spec.metrics).toEqual([
      {
        id: "errors",
        metricStat: {
          metric: { namespace: "modelship", metricName: "Errors", dimensions: candidate },
          periodSeconds: 10,
          stat: "Sum",
        },
        returnData: false,
      },
      {
        id: "requests",
        metricStat: {
          metric: { namespace: "modelship", metricName: "Requests", dimensions: candidate },
          periodSeconds: 10,
          stat: "Sum",
        },
        returnData: false,
      },
      {
        id: "error_rate",
        expression: "100 * errors / MAX([requests, 1])",
        label: "error rate of llama v2 (%)",
        returnData: true,
      },
    ]);
  });

  it("has no relative alarms even when the manifest asks for them: there is no stable to compare with", () => {
    expect(alarmNames.some((name) => name.includes("vs-stable"))).toBe(false);
  });

  it("rolls back on any of its alarms, in a rule CloudWatch accepts", () => {
    expect(specs[2]).toEqual({
      kind: "composite",
      name: "modelship-llama-v2-rollback",
      description:
        "Rolls llama v2 back when any of its canary alarms fires: p95 latency of llama v2 above 2000 ms; error rate of llama v2 above 2%.",
      rule: 'ALARM("modelship-llama-v2-latency-p95") OR ALARM("modelship-llama-v2-error-rate")',
    });
  });
});

describe("canaryAlarmSpecs beside a stable version", () => {
  const { specs, alarmNames } = canary({ stableVersion: "v1" });

  it("adds the latency ratio and error-rate difference against the stable, under the same composite", () => {
    expect(alarmNames).toEqual([
      "modelship-llama-v2-latency-p95",
      "modelship-llama-v2-error-rate",
      "modelship-llama-v2-latency-vs-stable",
      "modelship-llama-v2-errors-vs-stable",
      "modelship-llama-v2-rollback",
    ]);
    expect(specs.at(-1)).toMatchObject({
      rule: 'ALARM("modelship-llama-v2-latency-p95") OR ALARM("modelship-llama-v2-error-rate") OR ALARM("modelship-llama-v2-latency-vs-stable") OR ALARM("modelship-llama-v2-errors-vs-stable")',
    });
  });

  it("compares the candidate's p95 with the stable version's, above latencyP95Ratio", () => {
    const spec = metricSpec(specs, "modelship-llama-v2-latency-vs-stable");
    expect(spec.description).toBe(
      "p95 latency of llama v2 more than 1.25× that of v1 for 3 of 3 10-second periods",
    );
    expect(spec.threshold).toBe(1.25);
    expect(
      spec.metrics?.map((q) => [q.id, q.metricStat?.metric.dimensions, q.metricStat?.stat, q.expression]),
    ).toEqual([
      ["candidate_p95", candidate, "p95", undefined],
      ["stable_p95", stable, "p95", undefined],
      ["latency_ratio", undefined, undefined, "candidate_p95 / stable_p95"],
    ]);
  });

  it("compares the error rates in percentage points, above errorRateDelta × 100", () => {
    const spec = metricSpec(specs, "modelship-llama-v2-errors-vs-stable");
    expect(spec.description).toBe(
      "error rate of llama v2 more than 1 percentage point above v1's for 3 of 3 10-second periods",
    );
    expect(spec.threshold).toBe(1);
    expect(
      spec.metrics?.filter((q) => q.metricStat).map((q) => [q.id, q.metricStat?.metric.dimensions]),
    ).toEqual([
      ["candidate_errors", candidate],
      ["candidate_requests", candidate],
      ["stable_errors", stable],
      ["stable_requests", stable],
    ]);
    expect(spec.metrics?.find((q) => q.returnData)?.expression).toBe(
      "(100 * candidate_errors / MAX([candidate_requests, 1]) - 100 * stable_errors / MAX([stable_requests, 1])) / stable_seen",
    );
  });

  it("leaves the relative alarms out when the manifest sets no vsStable", () => {
    expect(canary({ stableVersion: "v1", alarms: { vsStable: undefined } }).alarmNames).toEqual([
      "modelship-llama-v2-latency-p95",
      "modelship-llama-v2-error-rate",
      "modelship-llama-v2-rollback",
    ]);
  });
});

describe("canaryAlarmSpecs: what the specs carry", () => {
  it("uses exactly the dimensions Model, Version and Variant on every metric", () => {
    for (const spec of canary({ stableVersion: "v1" }).specs) {
      if (spec.kind !== "metric") continue;
      const metrics = spec.metric
        ? [spec.metric]
        : (spec.metrics ?? []).flatMap((q) => (q.metricStat ? [q.metricStat.metric] : []));
      for (const metric of metrics) {
        expect(Object.keys(metric.dimensions).sort()).toEqual(["Model", "Variant", "Version"]);
        expect(metric.namespace).toBe("modelship");
      }
    }
  });

  it("takes period, M of N and missing-data treatment from the manifest", () => {
    const { specs } = canary({
      stableVersion: "v1",
      alarms: {
        periodSeconds: 60,
        datapointsToAlarm: 2,
        evaluationPeriods: 5,
        treatMissingData: "breaching",
      },
    });
    for (const spec of specs) {
      if (spec.kind !== "metric") continue;
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
    const spec = metricSpec(canary({ alarms: { errorRate: 0.07 } }).specs, "modelship-llama-v2-error-rate");
    expect(spec.threshold).toBe(7);
    expect(spec.description).toContain("above 7%");
  });

  it("produces specs the in-process evaluator accepts as CloudWatch would", () => {
    const book = new AlarmBook(new MetricSeries());
    expect(() => book.put(canary({ stableVersion: "v1" }).specs, new Date(0))).not.toThrow();
    expect(() => book.put(canary().specs, new Date(0))).not.toThrow();
  });

  it("names every alarm within CloudWatch's 255 characters, for any valid model and version", () => {
    const model = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
    const version = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
    fc.assert(
      fc.property(model, version, version, (m, v, s) => {
        const { alarmNames, compositeName } = canaryAlarmSpecs({
          model: m,
          version: v,
          stableVersion: s,
          alarms: DEFAULT_STACK_CONFIG.defaults.rollout.alarms,
          namespace: "modelship",
        });
        for (const name of alarmNames) {
          expect(name.length).toBeLessThanOrEqual(255);
          expect(name.startsWith(`modelship-${m}-${v}-`)).toBe(true);
        }
        expect(compositeName).toBe(`modelship-${m}-${v}-rollback`);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a model or version that could break an alarm name or the composite's rule", () => {
    expect(() =>
      canaryAlarmSpecs({
        model: "llama",
        version: 'v2") OR TRUE OR ("',
        alarms: ALARMS,
        namespace: "modelship",
      }),
    ).toThrow(/Cannot name the canary alarms after version 'v2"\) OR TRUE OR \("'/);
    expect(() =>
      canaryAlarmSpecs({ model: "Llama", version: "v2", alarms: ALARMS, namespace: "modelship" }),
    ).toThrow(/after model 'Llama'/);
  });
});
