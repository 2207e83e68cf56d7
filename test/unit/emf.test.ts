import { describe, expect, it } from "vitest";
import { observationSamples, trafficSamples } from "../../lib/core/alarms/canary-metrics";
import { type EmfRecord, emfRecords, trafficEmfRecords } from "../../lib/core/alarms/emf";
import { MetricSeries } from "../../lib/core/alarms/metric-series";
import type { Observation, TrafficPeriod } from "../../lib/ports";
import { canarySpecs } from "../support/canary-alarm-specs";

const AT = "2025-06-01T12:00:07.250Z";

function observation(overrides: Partial<Observation> = {}): Observation {
  return {
    model: "llama",
    version: "v2",
    variant: "candidate",
    latencyMs: 812.5,
    error: false,
    at: AT,
    ...overrides,
  };
}

/** CloudWatch Logs' view of a record: the datapoints it extracts, as the EMF specification defines it. */
function extract(
  record: EmfRecord,
): { name: string; unit: string; dimensions: Record<string, string>; values: number[] }[] {
  const root = record as unknown as Record<string, unknown>;
  return record._aws.CloudWatchMetrics.flatMap((directive) =>
    directive.Dimensions.flatMap((set) =>
      directive.Metrics.map((metric) => ({
        name: metric.Name,
        unit: metric.Unit,
        dimensions: Object.fromEntries(set.map((key) => [key, root[key] as string])),
        values: root[metric.Name] as number[],
      })),
    ),
  );
}

describe("trafficEmfRecords", () => {
  const window: TrafficPeriod = {
    model: "llama",
    version: "v2",
    variant: "candidate",
    source: "traffic",
    at: "2025-06-01T12:00:10.000Z",
    values: { Requests: 42, Errors: 1, LatencyP95: 1840.5, TtftP95: 96.25, ScrapeFailures: 0 },
  };

  it("writes a window of real traffic as one record of single values at its end, with its Source", () => {
    expect(trafficEmfRecords([window], "modelship")).toEqual([
      {
        _aws: {
          Timestamp: Date.parse("2025-06-01T12:00:10.000Z"),
          CloudWatchMetrics: [
            {
              Namespace: "modelship",
              Dimensions: [["Model", "Version", "Variant", "Source"]],
              Metrics: [
                { Name: "Requests", Unit: "Count", StorageResolution: 1 },
                { Name: "Errors", Unit: "Count", StorageResolution: 1 },
                { Name: "LatencyP95", Unit: "Milliseconds", StorageResolution: 1 },
                { Name: "TtftP95", Unit: "Milliseconds", StorageResolution: 1 },
                { Name: "ScrapeFailures", Unit: "Count", StorageResolution: 1 },
              ],
            },
          ],
        },
        Model: "llama",
        Version: "v2",
        Variant: "candidate",
        Source: "traffic",
        Requests: 42,
        Errors: 1,
        LatencyP95: 1840.5,
        TtftP95: 96.25,
        ScrapeFailures: 0,
      },
    ]);
  });

  it("names exactly the metric the traffic alarms watch", () => {
    const [record] = trafficEmfRecords([window], "modelship");
    const { specs } = canarySpecs({
      alarms: { sources: { latencyP95Ms: "traffic", errorRate: "traffic", vsStable: "traffic" } },
    });
    const alarm = specs.find((s) => s.name === "modelship-llama-v2-latency-p95-traffic");
    const extracted = extract(record!).find((m) => m.name === "LatencyP95");
    expect(alarm?.kind === "metric" && alarm.metric?.dimensions).toEqual(extracted?.dimensions);
  });

  it("gives CloudWatch the samples the local metric store records", () => {
    const [record] = trafficEmfRecords([window], "modelship");
    const local = trafficSamples(window, "modelship").map((s) => [s.metric.metricName, s.value]);
    expect(extract(record!).map((m) => [m.name, m.values])).toEqual(local);
  });

  it("writes nothing for a window without values, and refuses one whose value or time is unusable", () => {
    expect(trafficEmfRecords([{ ...window, values: {} }], "modelship")).toEqual([]);
    expect(() => trafficEmfRecords([{ ...window, values: { LatencyP95: Number.NaN } }], "modelship")).toThrow(
      "The traffic window of llama v2 (candidate) at 2025-06-01T12:00:10.000Z has LatencyP95 NaN, expected a finite number ≥ 0.",
    );
    expect(() => trafficEmfRecords([{ ...window, at: "soon" }], "modelship")).toThrow(/timestamp 'soon'/);
  });
});

describe("emfRecords", () => {
  it("writes an observation as Latency, Errors and Requests by Model, Version, Variant and Source probe, high resolution", () => {
    expect(emfRecords([observation()], "modelship")).toEqual([
      {
        _aws: {
          Timestamp: Date.parse("2025-06-01T12:00:07.000Z"),
          CloudWatchMetrics: [
            {
              Namespace: "modelship",
              Dimensions: [["Model", "Version", "Variant", "Source"]],
              Metrics: [
                { Name: "Latency", Unit: "Milliseconds", StorageResolution: 1 },
                { Name: "Errors", Unit: "Count", StorageResolution: 1 },
                { Name: "Requests", Unit: "Count", StorageResolution: 1 },
              ],
            },
          ],
        },
        Model: "llama",
        Version: "v2",
        Variant: "candidate",
        Source: "probe",
        Latency: [812.5],
        Errors: [0],
        Requests: [1],
      },
    ]);
  });

  it("emits exactly the dimension set the alarms watch, and nothing a library would add", () => {
    const [record] = emfRecords([observation()], "modelship");
    const { specs } = canarySpecs({
      alarms: { sources: { latencyP95Ms: "probe", errorRate: "probe", vsStable: "probe" } },
    });
    const latencyAlarm = specs.find((s) => s.kind === "metric" && s.metric);
    const extracted = extract(record!).find((m) => m.name === "Latency");
    expect(latencyAlarm?.kind === "metric" && latencyAlarm.metric?.dimensions).toEqual(extracted?.dimensions);
    expect(record!._aws.CloudWatchMetrics.flatMap((d) => d.Dimensions)).toEqual([
      ["Model", "Version", "Variant", "Source"],
    ]);
    expect(Object.keys(record!).sort()).toEqual([
      "Errors",
      "Latency",
      "Model",
      "Requests",
      "Source",
      "Variant",
      "Version",
      "_aws",
    ]);
  });

  it("groups observations per version, variant and second, one value each", () => {
    const records = emfRecords(
      [
        observation({ latencyMs: 100 }),
        observation({ latencyMs: 300, error: true, at: "2025-06-01T12:00:07.900Z" }),
        observation({ latencyMs: 200, variant: "stable", version: "v1" }),
        observation({ latencyMs: 400, at: "2025-06-01T12:00:08.000Z" }),
      ],
      "modelship",
    );
    expect(
      records.map((r) => [r.Version, r.Variant, r._aws.Timestamp % 60_000, r.Latency, r.Errors, r.Requests]),
    ).toEqual([
      ["v2", "candidate", 7_000, [100, 300], [0, 1], [1, 1]],
      ["v1", "stable", 7_000, [200], [0], [1]],
      ["v2", "candidate", 8_000, [400], [0], [1]],
    ]);
  });

  it("keeps each metric to the 100 values a record may carry", () => {
    const records = emfRecords(
      Array.from({ length: 250 }, (_, i) => observation({ latencyMs: i })),
      "modelship",
    );
    const latencies = records.map((r) => (r.Latency ?? []) as number[]);
    expect(latencies.map((l) => l.length)).toEqual([100, 100, 50]);
    expect(latencies.flat()).toEqual(Array.from({ length: 250 }, (_, i) => i));
  });

  it("gives CloudWatch the same samples the local metric store records", () => {
    const observations = [
      observation({ latencyMs: 100 }),
      observation({ latencyMs: 2600, error: true }),
      observation({ latencyMs: 450, at: "2025-06-01T12:00:09.999Z" }),
    ];
    const statistics = (series: MetricSeries, name: string, statistic: string) =>
      series.aggregate(
        {
          namespace: "modelship",
          metricName: name,
          dimensions: { Model: "llama", Version: "v2", Variant: "candidate" },
        },
        { statistic, periodSeconds: 10, firstPeriodStart: Date.parse("2025-06-01T12:00:00Z"), periods: 1 },
      )[0];
    const fromEmf = new MetricSeries();
    for (const record of emfRecords(observations, "modelship")) {
      for (const metric of extract(record)) {
        const id = { namespace: "modelship", metricName: metric.name, dimensions: metric.dimensions };
        for (const value of metric.values) fromEmf.record(id, value, record._aws.Timestamp);
      }
    }
    const local = new MetricSeries();
    for (const o of observations)
      for (const s of observationSamples(o, "modelship")) local.record(s.metric, s.value, s.at);
    for (const [name, statistic] of [
      ["Latency", "p95"],
      ["Latency", "SampleCount"],
      ["Errors", "Sum"],
      ["Requests", "Sum"],
    ] as const) {
      expect(statistics(fromEmf, name, statistic), `${name} ${statistic}`).toEqual(
        statistics(local, name, statistic),
      );
    }
  });

  it("refuses an observation whose timestamp or latency is unusable, naming it", () => {
    expect(() => emfRecords([observation({ at: "yesterday" })], "modelship")).toThrow(
      "The observation of llama v2 (candidate) has timestamp 'yesterday', expected an ISO 8601 date-time.",
    );
    expect(() => emfRecords([observation({ latencyMs: Number.NaN })], "modelship")).toThrow(
      `The observation of llama v2 (candidate) at ${AT} has latency NaN ms, expected a finite number ≥ 0.`,
    );
  });

  it("writes a probe that was never sent as an error and a request, leaving Latency out", () => {
    const { latencyMs: _measured, ...sent } = observation({ error: true });
    const [record] = emfRecords([sent], "modelship");
    expect(record?.Latency).toBeUndefined();
    expect(record?.Errors).toEqual([1]);
    expect(record?.Requests).toEqual([1]);
    expect(record?._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name)).toEqual(["Errors", "Requests"]);
    expect(() => emfRecords([{ ...sent, error: false }], "modelship")).toThrow(
      /has no latency and is not an error/,
    );
  });

  it("writes nothing for no observations", () => {
    expect(emfRecords([], "modelship")).toEqual([]);
  });
});
