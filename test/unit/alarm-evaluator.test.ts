import { describe, expect, it } from "vitest";
import type {
  AlarmState,
  AlarmStateValue,
  CompositeAlarmSpec,
  MetricAlarmSpec,
  MetricId,
  TreatMissingData,
} from "../../lib/core/alarms/alarm-spec";
import {
  AlarmBook,
  AlarmSpecInvalid,
  evaluateCompositeAlarm,
  evaluateMetricAlarm,
} from "../../lib/core/alarms/alarm-evaluator";
import { historyPeriodSeconds, MAX_HISTORY_PERIODS } from "../../lib/core/alarms/alarm-history";
import { observationSamples, trafficSamples } from "../../lib/core/alarms/canary-metrics";
import { CompositeRuleError, parseCompositeRule } from "../../lib/core/alarms/composite-rule";
import { MetricSeries } from "../../lib/core/alarms/metric-series";
import type { Observation } from "../../lib/ports";
import { canarySpecs } from "../support/canary-alarm-specs";

const PERIOD = 10;
const T0 = Date.parse("2025-06-01T12:00:00.000Z");
const LATENCY: MetricId = {
  namespace: "modelship",
  metricName: "Latency",
  dimensions: { Model: "llama", Version: "v2", Variant: "candidate" },
};

function metricAlarm(overrides: Partial<MetricAlarmSpec> = {}): MetricAlarmSpec {
  return {
    kind: "metric",
    name: "modelship-llama-v2-latency",
    description: "test alarm",
    threshold: 10,
    comparison: "GreaterThanThreshold",
    periodSeconds: PERIOD,
    evaluationPeriods: 3,
    datapointsToAlarm: 3,
    treatMissingData: "missing",
    metric: { ...LATENCY, statistic: "Maximum" },
    ...overrides,
  };
}

/**
 * A series from the user guide's notation, oldest period first: `X` breaching (20 against a threshold of
 * 10), `0` not breaching (5), `-` missing. `now` is 3 s into the period after the last one.
 */
function fromPattern(pattern: string): { series: MetricSeries; now: Date } {
  const series = new MetricSeries();
  const periods = pattern.split(" ");
  periods.forEach((symbol, i) => {
    if (symbol === "-") return;
    series.record(LATENCY, symbol === "X" ? 20 : 5, T0 + i * PERIOD * 1000 + 1000);
  });
  return { series, now: new Date(T0 + periods.length * PERIOD * 1000 + 3000) };
}

function stateFor(pattern: string, spec: MetricAlarmSpec, previous?: AlarmStateValue): AlarmStateValue {
  const { series, now } = fromPattern(pattern);
  const before: AlarmState | undefined = previous && {
    name: spec.name,
    state: previous,
    reason: "before",
    since: "2025-06-01T11:00:00.000Z",
  };
  return evaluateMetricAlarm(spec, series, now, before).state;
}

const TREATMENTS: readonly TreatMissingData[] = ["missing", "ignore", "breaching", "notBreaching"];
type Expected = AlarmStateValue | "retain";

/** Checks a row against every TreatMissingData; `retain` is checked from OK and from ALARM. */
function expectRow(pattern: string, spec: MetricAlarmSpec, expected: readonly Expected[]) {
  TREATMENTS.forEach((treatMissingData, i) => {
    const withTreatment = { ...spec, treatMissingData };
    const want = expected[i];
    if (want === "retain") {
      expect(stateFor(pattern, withTreatment, "OK"), `${pattern} ${treatMissingData} from OK`).toBe("OK");
      expect(stateFor(pattern, withTreatment, "ALARM"), `${pattern} ${treatMissingData} from ALARM`).toBe(
        "ALARM",
      );
    } else {
      expect(stateFor(pattern, withTreatment, "OK"), `${pattern} ${treatMissingData}`).toBe(want);
    }
  });
}

describe("metric alarm: the user guide's table for 3 of 3 (evaluation range 5)", () => {
  it.each<[string, Expected[]]>([
    ["0 - X - X", ["OK", "OK", "OK", "OK"]],
    ["0 - - - -", ["OK", "OK", "OK", "OK"]],
    ["- - - - -", ["INSUFFICIENT_DATA", "retain", "ALARM", "OK"]],
    ["0 X X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]],
    ["- - X - -", ["ALARM", "retain", "ALARM", "OK"]],
  ])("%s → missing %j, ignore, breaching, notBreaching", (pattern, expected) => {
    expectRow(pattern, metricAlarm(), expected);
  });

  it.each(["- - - - X", "- - - X -"])(
    "does not alarm prematurely on %s when missing data is missing",
    (pattern) => {
      expect(stateFor(pattern, metricAlarm({ treatMissingData: "missing" }))).toBe("OK");
    },
  );
});

describe("metric alarm: the user guide's table for 2 of 3", () => {
  it.each<[string, Expected[]]>([
    ["0 - X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]],
    ["0 0 X 0 X", ["ALARM", "ALARM", "ALARM", "ALARM"]],
    ["0 - X - -", ["OK", "OK", "ALARM", "OK"]],
    ["- - - - 0", ["OK", "OK", "ALARM", "OK"]],
    ["- - - X -", ["ALARM", "retain", "ALARM", "OK"]],
  ])("%s → missing %j, ignore, breaching, notBreaching", (pattern, expected) => {
    expectRow(pattern, metricAlarm({ datapointsToAlarm: 2 }), expected);
  });
});

describe("metric alarm: M of N", () => {
  it.each<[string, number, AlarmStateValue]>([
    ["X X X", 3, "ALARM"],
    ["0 X X", 3, "OK"],
    ["0 X X", 2, "ALARM"],
    ["X 0 X", 2, "ALARM"],
    ["X 0 0", 2, "OK"],
    ["X X X 0", 3, "OK"],
  ])("%s with %i of 3 → %s", (pattern, datapointsToAlarm, expected) => {
    expect(stateFor(pattern, metricAlarm({ datapointsToAlarm }))).toBe(expected);
  });

  it.each<[MetricAlarmSpec["comparison"], number, AlarmStateValue]>([
    ["GreaterThanThreshold", 20, "OK"],
    ["GreaterThanOrEqualToThreshold", 20, "ALARM"],
    ["LessThanThreshold", 20, "OK"],
    ["LessThanOrEqualToThreshold", 20, "ALARM"],
    ["LessThanThreshold", 21, "ALARM"],
  ])("compares with %s against %i", (comparison, threshold, expected) => {
    expect(stateFor("X X X", metricAlarm({ comparison, threshold }))).toBe(expected);
  });
});

describe("metric alarm: reasons, values and timestamps", () => {
  function latencies(values: readonly number[]): { series: MetricSeries; now: Date } {
    const series = new MetricSeries();
    values.forEach((value, i) => series.record(LATENCY, value, T0 + i * PERIOD * 1000 + 500));
    return { series, now: new Date(T0 + values.length * PERIOD * 1000 + 1000) };
  }

  it("says which datapoints crossed which threshold, newest first, as CloudWatch does", () => {
    const { series, now } = latencies([2450, 2610.5, 2533]);
    const state = evaluateMetricAlarm(metricAlarm({ threshold: 2000 }), series, now);
    expect(state).toEqual({
      name: "modelship-llama-v2-latency",
      state: "ALARM",
      reason:
        "Threshold Crossed: 3 out of the last 3 datapoints [2533.0, 2610.5, 2450.0] were greater than the threshold (2000.0)",
      value: 2533,
      threshold: 2000,
      evaluation: {
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        breaching: 3,
        noData: 0,
        treatMissingData: "missing",
      },
      since: now.toISOString(),
    });
  });

  it("says how many datapoints stayed within the threshold when it is OK", () => {
    const { series, now } = latencies([2450, 1500, 1200]);
    const state = evaluateMetricAlarm(metricAlarm({ threshold: 2000 }), series, now);
    expect(state.state).toBe("OK");
    expect(state.reason).toBe(
      "Threshold Crossed: 2 out of the last 3 datapoints [1200.0, 1500.0, 2450.0] were not greater than the threshold (2000.0)",
    );
  });

  it("says when missing datapoints were counted as breaching", () => {
    const { series, now } = fromPattern("- - - - X");
    const state = evaluateMetricAlarm(metricAlarm({ treatMissingData: "breaching" }), series, now);
    expect(state.reason).toBe(
      "Threshold Crossed: 3 out of the last 3 datapoints [20.0] were greater than the threshold (10.0), with 2 missing datapoints treated as breaching",
    );
  });

  it("explains an alarm on intermittent data, and why a younger breach is not one yet", () => {
    const spec = metricAlarm({ treatMissingData: "missing" });
    const premature = fromPattern("- - X - -");
    expect(evaluateMetricAlarm(spec, premature.series, premature.now).reason).toBe(
      "Threshold Crossed: 1 out of the last 1 datapoints [20.0] was greater than the threshold (10.0), the oldest 3 periods ago; the periods without data do not contradict it",
    );
    const young = fromPattern("- - - X -");
    expect(evaluateMetricAlarm(spec, young.series, young.now).reason).toBe(
      "Threshold Crossed: 1 out of the last 1 datapoints [20.0] was greater than the threshold (10.0), fewer than the 3 needed; the other periods have no data",
    );
  });

  it("says no data arrived when every period of the range is missing", () => {
    const { series, now } = fromPattern("- - - - -");
    expect(evaluateMetricAlarm(metricAlarm(), series, now).reason).toBe(
      "Insufficient Data: no datapoints were received for 5 periods.",
    );
    expect(evaluateMetricAlarm(metricAlarm({ treatMissingData: "breaching" }), series, now).reason).toBe(
      "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [Breaching].",
    );
  });

  it("keeps the state-change timestamp while the state stays, and moves it when the state changes", () => {
    const spec = metricAlarm();
    const { series } = fromPattern("X X X");
    const first = evaluateMetricAlarm(spec, series, new Date(T0 + 30_000));
    const later = evaluateMetricAlarm(spec, series, new Date(T0 + 39_000), first);
    expect(later.state).toBe("ALARM");
    expect(later.since).toBe(first.since);
    series.record(LATENCY, 5, T0 + 31_000);
    const calm = evaluateMetricAlarm(spec, series, new Date(T0 + 41_000), later);
    expect(calm.state).toBe("OK");
    expect(calm.since).toBe(new Date(T0 + 41_000).toISOString());
  });

  it("keeps the previous reason and timestamp when missing data is ignored", () => {
    const { series, now } = fromPattern("- - - - -");
    const previous: AlarmState = {
      name: "x",
      state: "ALARM",
      reason: "it was bad",
      since: "2025-06-01T11:00:00.000Z",
    };
    const state = evaluateMetricAlarm(metricAlarm({ treatMissingData: "ignore" }), series, now, previous);
    expect(state).toMatchObject({ state: "ALARM", reason: "it was bad", since: "2025-06-01T11:00:00.000Z" });
  });
});

describe("metric alarm: its evaluation, M out of N, beside the state", () => {
  function evaluationOf(pattern: string, spec: MetricAlarmSpec) {
    const { series, now } = fromPattern(pattern);
    return evaluateMetricAlarm(spec, series, now);
  }

  it("says an OK alarm whose newest value is over the threshold breaches 2 of its 3 periods and needs 3", () => {
    const state = evaluationOf("0 X X", metricAlarm({ datapointsToAlarm: 3 }));
    expect(state).toMatchObject({ state: "OK", value: 20, threshold: 10 });
    expect(state.evaluation).toEqual({
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      breaching: 2,
      noData: 0,
      treatMissingData: "missing",
    });
  });

  it("counts the periods without data among the N evaluated, with the alarm's TreatMissingData", () => {
    const state = evaluationOf("- - 0 - X", metricAlarm({ treatMissingData: "notBreaching" }));
    expect(state.state).toBe("OK");
    expect(state.evaluation).toMatchObject({ breaching: 1, noData: 1, treatMissingData: "notBreaching" });
    expect(evaluationOf("- - - - -", metricAlarm()).evaluation).toMatchObject({ breaching: 0, noData: 3 });
  });

  it("evaluates the N newest datapoints when the range has at least N, skipping the gaps between them", () => {
    const state = evaluationOf("0 X X - X", metricAlarm());
    expect(state.state).toBe("ALARM");
    expect(state.evaluation).toMatchObject({ breaching: 3, noData: 0 });
  });

  it("leaves the current, incomplete period out of the count", () => {
    const series = new MetricSeries();
    for (const offset of [1_000, 11_000, 21_000]) series.record(LATENCY, 5, T0 + offset);
    series.record(LATENCY, 999, T0 + 31_000);
    const state = evaluateMetricAlarm(metricAlarm(), series, new Date(T0 + 39_999));
    expect(state.evaluation).toMatchObject({ breaching: 0, noData: 0 });
  });
});

describe("metric alarm: the current, incomplete period is never evaluated", () => {
  it("ignores breaching samples in the period that has not ended", () => {
    const series = new MetricSeries();
    for (const offset of [1_000, 11_000, 21_000]) series.record(LATENCY, 5, T0 + offset);
    series.record(LATENCY, 999, T0 + 31_000);
    expect(
      evaluateMetricAlarm(metricAlarm({ datapointsToAlarm: 1 }), series, new Date(T0 + 39_999)).state,
    ).toBe("OK");
    expect(
      evaluateMetricAlarm(metricAlarm({ datapointsToAlarm: 1 }), series, new Date(T0 + 40_000)).state,
    ).toBe("ALARM");
  });
});

describe("metric alarm: percentiles and low sample counts", () => {
  const p95 = metricAlarm({
    metric: { ...LATENCY, extendedStatistic: "p95" },
    threshold: 90,
    datapointsToAlarm: 1,
  });

  function samplesPerPeriod(count: number): { series: MetricSeries; now: Date } {
    const series = new MetricSeries();
    for (let period = 0; period < 3; period++) {
      for (let i = 1; i <= count; i++) series.record(LATENCY, (i * 100) / count, T0 + period * 10_000 + i);
    }
    return { series, now: new Date(T0 + 31_000) };
  }

  it("alarms on p95 of a known sample: 1..100 has p95 = 95", () => {
    const { series, now } = samplesPerPeriod(100);
    const state = evaluateMetricAlarm(p95, series, now);
    expect(state.value).toBe(95);
    expect(state.state).toBe("ALARM");
  });

  it.each<[number, "evaluate" | "ignore" | undefined, AlarmStateValue]>([
    [20, undefined, "ALARM"],
    [20, "evaluate", "ALARM"],
    [20, "ignore", "OK"],
    [199, "ignore", "OK"],
    [200, "ignore", "ALARM"],
  ])(
    "with %i samples a period and evaluateLowSampleCountPercentile %s, goes from OK to %s (p95 needs 200)",
    (count, evaluateLowSampleCountPercentile, expected) => {
      const { series, now } = samplesPerPeriod(count);
      const spec = {
        ...p95,
        ...(evaluateLowSampleCountPercentile ? { evaluateLowSampleCountPercentile } : {}),
      };
      const previous: AlarmState = { name: spec.name, state: "OK", reason: "quiet" };
      expect(evaluateMetricAlarm(spec, series, now, previous).state).toBe(expected);
    },
  );
});

describe("metric alarm: metric math", () => {
  function canarySpec(what: string, treatMissingData: TreatMissingData = "missing"): MetricAlarmSpec {
    const { specs } = canarySpecs({ stableVersion: "v1", alarms: { treatMissingData } });
    return specs.find((s) => s.name === `modelship-llama-v2-${what}`) as MetricAlarmSpec;
  }
  const errorRateSpec = () => canarySpec("error-rate");

  function observe(series: MetricSeries, observations: Partial<Observation>[], period: number) {
    for (const o of observations) {
      const observation: Observation = {
        model: "llama",
        version: "v2",
        variant: "candidate",
        latencyMs: 100,
        error: false,
        at: new Date(T0 + period * 10_000 + 2_000).toISOString(),
        ...o,
      };
      for (const s of observationSamples(observation, "modelship")) series.record(s.metric, s.value, s.at);
    }
  }

  it("alarms when the candidate's error rate is above the threshold in 3 of 3 periods", () => {
    const series = new MetricSeries();
    for (let period = 0; period < 3; period++) observe(series, [{ error: true }, {}, {}], period);
    const state = evaluateMetricAlarm(errorRateSpec(), series, new Date(T0 + 31_000));
    expect(state.state).toBe("ALARM");
    expect(state.value).toBeCloseTo(100 / 3, 10);
    expect(state.threshold).toBe(2);
  });

  it("is OK with requests and no errors", () => {
    const series = new MetricSeries();
    for (let period = 0; period < 3; period++) observe(series, [{}, {}], period);
    expect(evaluateMetricAlarm(errorRateSpec(), series, new Date(T0 + 31_000))).toMatchObject({
      state: "OK",
      value: 0,
    });
  });

  it.each<[TreatMissingData, AlarmStateValue]>([
    ["missing", "INSUFFICIENT_DATA"],
    ["notBreaching", "OK"],
  ])("has no latency ratio without stable data (%s → %s), however slow the candidate", (treat, expected) => {
    const series = new MetricSeries();
    for (let period = 0; period < 3; period++) observe(series, [{ latencyMs: 9000 }], period);
    const state = evaluateMetricAlarm(canarySpec("latency-vs-stable", treat), series, new Date(T0 + 31_000));
    expect(state.state).toBe(expected);
    expect(state.value).toBeUndefined();
  });

  it("alarms on the latency ratio when both variants have data", () => {
    const series = new MetricSeries();
    for (let period = 0; period < 3; period++) {
      observe(series, [{ latencyMs: 900 }], period);
      observe(series, [{ latencyMs: 600, variant: "stable", version: "v1" }], period);
    }
    expect(evaluateMetricAlarm(canarySpec("latency-vs-stable"), series, new Date(T0 + 31_000))).toMatchObject(
      {
        state: "ALARM",
        value: 1.5,
      },
    );
  });

  it("does not compare error rates against a stable version that has no data", () => {
    const series = new MetricSeries();
    for (let period = 0; period < 3; period++) observe(series, [{ error: true }, {}], period);
    expect(evaluateMetricAlarm(canarySpec("errors-vs-stable"), series, new Date(T0 + 31_000)).state).toBe(
      "INSUFFICIENT_DATA",
    );
    for (let period = 0; period < 3; period++) {
      observe(
        series,
        [
          { variant: "stable", version: "v1" },
          { variant: "stable", version: "v1" },
        ],
        period,
      );
    }
    expect(evaluateMetricAlarm(canarySpec("errors-vs-stable"), series, new Date(T0 + 31_000))).toMatchObject({
      state: "ALARM",
      value: 50,
      threshold: 1,
    });
  });

  it("has no datapoint, not a division by zero, when no request was made", () => {
    const series = new MetricSeries();
    expect(evaluateMetricAlarm(errorRateSpec(), series, new Date(T0 + 31_000)).state).toBe(
      "INSUFFICIENT_DATA",
    );
  });
});

describe("composite rules", () => {
  const states: Record<string, AlarmStateValue> = { a: "ALARM", b: "OK", c: "INSUFFICIENT_DATA" };

  it.each<[string, boolean]>([
    ['ALARM("a")', true],
    ['ALARM("b")', false],
    ['OK("b")', true],
    ['INSUFFICIENT_DATA("c")', true],
    ["ALARM(a)", true],
    ['ALARM( "a" )', true],
    ['ALARM("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a")', true],
    ["TRUE", true],
    ["FALSE", false],
    ['ALARM("a") AND OK("b")', true],
    ['ALARM("a") AND ALARM("b")', false],
    ['ALARM("b") OR ALARM("a")', true],
    ['NOT ALARM("b")', true],
    ['NOT ALARM("a")', false],
    ['NOT NOT ALARM("a")', true],
    ['ALARM("a") AND NOT ALARM("b")', true],
    ['ALARM("b") OR ALARM("a") AND FALSE', false],
    ['(ALARM("b") OR ALARM("a")) AND TRUE', true],
    ['NOT (ALARM("a") OR OK("b"))', false],
    ['((ALARM("b")) OR (OK("c") OR (INSUFFICIENT_DATA("c") AND NOT OK("a"))))', true],
    ['NOT(ALARM("b"))', true],
  ])("%s is %s", (rule, expected) => {
    const parsed = parseCompositeRule(rule);
    const members = new Map(
      parsed.alarmNames.map((name): [string, AlarmState] => [
        name,
        { name, state: states[name]!, reason: "" },
      ]),
    );
    const state = evaluateCompositeAlarm(
      { kind: "composite", name: "x", description: "", rule },
      members,
      new Date(T0),
    );
    expect(state.state).toBe(expected ? "ALARM" : "OK");
  });

  it("names the alarms it reads, once each, without ARN prefixes", () => {
    expect(
      parseCompositeRule('ALARM("a") OR OK(arn:aws:cloudwatch:us-east-1:1:alarm:b) OR NOT ALARM("a")')
        .alarmNames,
    ).toEqual(["a", "b"]);
  });

  it.each([
    [
      'ALARM("a") OR',
      "expected ALARM(name), OK(name), INSUFFICIENT_DATA(name), TRUE, FALSE, NOT or '(', found the end of the rule",
      14,
    ],
    ['ALARM("a") or ALARM("b")', "expected AND, OR or the end of the rule, found 'or ALARM(\"b\")'", 12],
    ['ALARM("a"', "expected ')' after the alarm name in ALARM(, found the end of the rule", 10],
    ['ALARM("a) OR ALARM(b)', `expected a closing '"' after the alarm name in ALARM(`, 7],
    ["ALARM()", "expected an alarm name or ARN in ALARM( )", 7],
    ['(ALARM("a")', "expected ')' to close the '(' at column 1", 12],
    ['WARN("a")', "expected ALARM(name), OK(name)", 1],
    ["", "found the end of the rule", 1],
  ])("refuses %j, saying where and what it expected", (rule, message, column) => {
    let error: unknown;
    try {
      parseCompositeRule(rule);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CompositeRuleError);
    expect((error as CompositeRuleError).message).toContain(message);
    expect((error as CompositeRuleError).column).toBe(column);
  });

  it("is ALARM with the reason of the member that fired", () => {
    const members = new Map<string, AlarmState>([
      [
        "lat",
        { name: "lat", state: "ALARM", reason: "Threshold Crossed: 3 out of the last 3 datapoints [2500.0]" },
      ],
      ["err", { name: "err", state: "OK", reason: "" }],
    ]);
    const spec: CompositeAlarmSpec = {
      kind: "composite",
      name: "rb",
      description: "",
      rule: 'ALARM("lat") OR ALARM("err")',
    };
    expect(evaluateCompositeAlarm(spec, members, new Date(T0)).reason).toBe(
      'ALARM("lat") OR ALARM("err") is TRUE: lat is ALARM (Threshold Crossed: 3 out of the last 3 datapoints [2500.0]); err is OK.',
    );
  });

  it("is INSUFFICIENT_DATA while it names an alarm that does not exist", () => {
    const spec: CompositeAlarmSpec = {
      kind: "composite",
      name: "rb",
      description: "",
      rule: 'ALARM("gone") OR TRUE',
    };
    expect(evaluateCompositeAlarm(spec, new Map(), new Date(T0))).toMatchObject({
      state: "INSUFFICIENT_DATA",
      reason: "The rule names 'gone', which does not exist.",
    });
  });
});

describe("AlarmBook", () => {
  const latency = metricAlarm({ name: "lat", datapointsToAlarm: 2 });
  const errors = metricAlarm({
    name: "err",
    metric: { ...LATENCY, metricName: "Errors", statistic: "Sum" },
    threshold: 0,
  });
  const rollback: CompositeAlarmSpec = {
    kind: "composite",
    name: "rollback",
    description: "",
    rule: 'ALARM("lat") OR ALARM("err")',
  };
  const page: CompositeAlarmSpec = {
    kind: "composite",
    name: "page",
    description: "",
    rule: 'ALARM("rollback")',
  };

  it("starts every new alarm in INSUFFICIENT_DATA, like CloudWatch on creation", () => {
    const book = new AlarmBook(new MetricSeries());
    book.put([latency, errors, rollback], new Date(T0));
    expect(book.states(["lat", "rollback", "nope"])).toEqual([
      {
        name: "lat",
        state: "INSUFFICIENT_DATA",
        reason: "Unchecked: Initial alarm creation",
        threshold: 10,
        since: new Date(T0).toISOString(),
      },
      {
        name: "rollback",
        state: "INSUFFICIENT_DATA",
        reason: "Unchecked: Initial alarm creation",
        since: new Date(T0).toISOString(),
      },
    ]);
  });

  it("reports each state change once, metric alarms before the composites over them", () => {
    const series = new MetricSeries();
    const book = new AlarmBook(series);
    book.put([page, rollback, latency, errors], new Date(T0));
    series.record(errors.metric!, 0, T0 + 1_000);
    expect(book.evaluateAll(new Date(T0 + 10_000)).map((t) => `${t.name}: ${t.from} → ${t.to}`)).toEqual([
      "err: INSUFFICIENT_DATA → OK",
      "rollback: INSUFFICIENT_DATA → OK",
      "page: INSUFFICIENT_DATA → OK",
    ]);
    series.record(LATENCY, 50, T0 + 11_000);
    series.record(LATENCY, 50, T0 + 21_000);
    expect(book.evaluateAll(new Date(T0 + 30_000)).map((t) => `${t.name}: ${t.from} → ${t.to}`)).toEqual([
      "lat: INSUFFICIENT_DATA → ALARM",
      "rollback: OK → ALARM",
      "page: OK → ALARM",
    ]);
    expect(book.evaluateAll(new Date(T0 + 31_000))).toEqual([]);
  });

  it("keeps an alarm's state-change timestamp across evaluations while the state stays", () => {
    const series = new MetricSeries();
    const book = new AlarmBook(series);
    book.put([latency, rollback, errors], new Date(T0));
    for (const offset of [1_000, 11_000]) series.record(LATENCY, 50, T0 + offset);
    book.evaluateAll(new Date(T0 + 20_000));
    const [firstSince] = book.states(["rollback"]).map((s) => s.since);
    series.record(LATENCY, 60, T0 + 21_000);
    book.evaluateAll(new Date(T0 + 30_000));
    book.evaluateAll(new Date(T0 + 40_000));
    expect(book.states(["rollback"])[0]).toMatchObject({ state: "ALARM", since: firstSince });
    expect(firstSince).toBe(new Date(T0 + 20_000).toISOString());
  });

  it("keeps an alarm's state when its spec is updated", () => {
    const series = new MetricSeries();
    const book = new AlarmBook(series);
    book.put([latency], new Date(T0));
    for (const offset of [1_000, 11_000]) series.record(LATENCY, 50, T0 + offset);
    book.evaluateAll(new Date(T0 + 20_000));
    book.put([{ ...latency, threshold: 40 }], new Date(T0 + 25_000));
    expect(book.states(["lat"])[0]?.state).toBe("ALARM");
  });

  it("removes alarms (missing ones are fine); a composite left naming one goes to INSUFFICIENT_DATA", () => {
    const book = new AlarmBook(new MetricSeries());
    book.put([latency, errors, rollback], new Date(T0));
    book.remove(["lat", "never-existed"]);
    const transitions = book.evaluateAll(new Date(T0 + 40_000));
    expect(book.states(["lat", "err", "rollback"]).map((s) => s.name)).toEqual(["err", "rollback"]);
    expect(transitions.find((t) => t.name === "rollback")).toBeUndefined();
    expect(book.states(["rollback"])[0]?.reason).toBe("The rule names 'lat', which does not exist.");
  });

  it("refuses a batch with invalid specs, naming every problem", () => {
    const book = new AlarmBook(new MetricSeries());
    let error: unknown;
    try {
      book.put(
        [
          metricAlarm({
            name: "bad",
            periodSeconds: 15,
            datapointsToAlarm: 4,
            metric: { ...LATENCY, extendedStatistic: "P95" },
          }),
          { kind: "composite", name: "rb", description: "", rule: 'ALARM("bad") OR ALARM("ghost")' },
          { kind: "composite", name: "broken", description: "", rule: "ALARM(" },
        ],
        new Date(T0),
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AlarmSpecInvalid);
    expect((error as AlarmSpecInvalid).problems).toEqual([
      "bad: periodSeconds is 15; expected 10, 20 or 30 (high resolution) or a multiple of 60.",
      "bad: datapointsToAlarm is 4; expected a whole number from 1 to evaluationPeriods (3).",
      "bad: metric.extendedStatistic is 'P95'; expected a percentile p0 to p100, e.g. p95 or p99.9.",
      `broken: Composite alarm rule "ALARM(": expected an alarm name or ARN in ALARM( ), found the end of the rule (column 7).`,
      "rb: its rule names alarm 'ghost', which does not exist; put the alarms a composite names before (or with) it.",
    ]);
    expect(book.states(["bad", "rb"])).toEqual([]);
  });

  it("refuses metric math it cannot evaluate, naming the entry", () => {
    const book = new AlarmBook(new MetricSeries());
    const spec = metricAlarm({
      name: "math",
      metric: undefined,
      metrics: [
        { id: "m1", metricStat: { metric: LATENCY, periodSeconds: 60, stat: "Sum" }, returnData: false },
        { id: "e1", expression: "m1 / m2", returnData: true },
        { id: "e2", expression: "FILL(m1, 0)", returnData: true },
      ],
    });
    expect(() => book.put([spec], new Date(T0))).toThrow(
      [
        "Alarm specs refused:",
        "- math: metrics[0].metricStat.periodSeconds is 60; every metric of the alarm must use its period (10).",
        `- math: metrics[2].expression Metric math "FILL(m1, 0)": 'FILL' is not a function this evaluator supports; use MAX, MIN, SUM, AVG, IF, TIME_SERIES, EPOCH (column 1).`,
        "- math: metrics has 2 entries with returnData true; exactly one must be, the value the alarm watches.",
        "- math: metrics 'e1' uses 'm2', which is not the id of any entry.",
      ].join("\n"),
    );
  });

  it("refuses composites that name each other in a cycle", () => {
    const book = new AlarmBook(new MetricSeries());
    expect(() =>
      book.put(
        [
          { kind: "composite", name: "x", description: "", rule: 'ALARM("y")' },
          { kind: "composite", name: "y", description: "", rule: 'ALARM("x")' },
        ],
        new Date(T0),
      ),
    ).toThrow("composite alarms name each other in a cycle: x → y → x.");
  });

  it("keeps the metric history its alarms need", () => {
    const series = new MetricSeries({ retentionSeconds: 10 });
    new AlarmBook(series).put(
      [metricAlarm({ periodSeconds: 60, evaluationPeriods: 5, datapointsToAlarm: 5 })],
      new Date(T0),
    );
    expect(series.retentionSeconds).toBeGreaterThanOrEqual(8 * 60);
  });
});

describe("AlarmBook with the canary's alarms", () => {
  it("rolls a canary back three periods after its latency goes bad, and not before", () => {
    const series = new MetricSeries();
    const book = new AlarmBook(series);
    const { specs, compositeName } = canarySpecs({ stableVersion: "v1" });
    book.put(specs, new Date(T0));
    const probe = (second: number, variant: "candidate" | "stable", latencyMs: number) => {
      const observation: Observation = {
        model: "llama",
        version: variant === "candidate" ? "v2" : "v1",
        variant,
        latencyMs,
        error: false,
        at: new Date(T0 + second * 1000).toISOString(),
      };
      for (const s of observationSamples(observation, "modelship")) series.record(s.metric, s.value, s.at);
    };
    const compositeState = () => book.states([compositeName])[0]?.state;
    // One probe round a second per variant; the fault starts at 60 s.
    const fired: number[] = [];
    for (let second = 0; second < 120; second++) {
      probe(second, "stable", 400);
      probe(second, "candidate", second >= 60 ? 2600 : 420);
      book.evaluateAll(new Date(T0 + (second + 1) * 1000));
      if (compositeState() === "ALARM") fired.push(second);
    }
    expect(fired[0]).toBe(89);
    expect(book.states(specs.map((s) => s.name)).map((s) => `${s.name} ${s.state}`)).toEqual([
      "modelship-llama-v2-latency-p95 ALARM",
      "modelship-llama-v2-error-rate OK",
      "modelship-llama-v2-latency-vs-stable ALARM",
      "modelship-llama-v2-errors-vs-stable OK",
      "modelship-llama-v2-no-probe-data OK",
      "modelship-llama-v2-rollback ALARM",
    ]);
  });
});

describe("AlarmBook with the canary's no-data guard", () => {
  const ARMED = Date.parse("2025-06-01T12:00:07.000Z");
  /** The first whole minute the guard judges: 12:00:07 + 120 s grace → 12:03:00. */
  const FIRST_JUDGED = Date.parse("2025-06-01T12:03:00.000Z");

  function world(options: { probeFrom: number; probeUntil?: number; failing?: boolean }) {
    const series = new MetricSeries();
    const book = new AlarmBook(series);
    const { specs } = canarySpecs({ armedAt: new Date(ARMED) });
    book.put(specs, new Date(ARMED));
    const states = (name: string) => book.states([`modelship-llama-v2-${name}`])[0]?.state;
    const fired = new Map<string, number>();
    /** Runs a probe round every 10 s (2 requests) from `probeFrom` and evaluates every second until `until`. */
    const run = (until: number) => {
      for (let t = ARMED; t <= until; t += 1000) {
        const sinceStart = t - options.probeFrom;
        if (sinceStart >= 0 && sinceStart % 10_000 === 0 && t < (options.probeUntil ?? Infinity)) {
          for (let i = 0; i < 2; i++) {
            const observation: Observation = options.failing
              ? {
                  model: "llama",
                  version: "v2",
                  variant: "candidate",
                  error: true,
                  at: new Date(t).toISOString(),
                }
              : {
                  model: "llama",
                  version: "v2",
                  variant: "candidate",
                  latencyMs: 300,
                  error: false,
                  at: new Date(t).toISOString(),
                };
            for (const s of observationSamples(observation, "modelship"))
              series.record(s.metric, s.value, s.at);
          }
        }
        book.evaluateAll(new Date(t));
        for (const name of ["no-probe-data", "error-rate", "rollback"]) {
          if (states(name) === "ALARM" && !fired.has(name)) fired.set(name, t);
        }
      }
      return fired;
    };
    return { run, states };
  }

  it("never rolls a healthy canary back, even when the prober's first round comes late in the grace", () => {
    const { run } = world({ probeFrom: ARMED + 95_000 });
    expect(run(ARMED + 15 * 60_000)).toEqual(new Map());
  });

  it("never judges the partial minute the prober starts in, nor the minutes before it", () => {
    const { run, states } = world({ probeFrom: ARMED });
    expect(run(FIRST_JUDGED - 1000)).toEqual(new Map());
    expect(states("no-probe-data")).toBe("OK");
  });

  it("rolls back two whole minutes after the prober stops", () => {
    const stopped = Date.parse("2025-06-01T12:06:30.000Z");
    const { run } = world({ probeFrom: ARMED, probeUntil: stopped });
    const fired = run(ARMED + 15 * 60_000);
    // 12:06 has 3 rounds (6 of 12 requests: not below 6), 12:07 and 12:08 none: ALARM once 12:08 has ended.
    expect(new Date(fired.get("no-probe-data") ?? 0).toISOString()).toBe("2025-06-01T12:09:00.000Z");
    expect(fired.get("rollback")).toBe(fired.get("no-probe-data"));
  });

  it("rolls back a prober that never ran, two whole minutes after the grace", () => {
    const { run } = world({ probeFrom: Infinity });
    const fired = run(ARMED + 15 * 60_000);
    expect(new Date(fired.get("no-probe-data") ?? 0).toISOString()).toBe("2025-06-01T12:05:00.000Z");
  });

  it("leaves rounds that cannot probe to the error rate: they publish their requests as errors", () => {
    const { run, states } = world({ probeFrom: ARMED, failing: true });
    const fired = run(ARMED + 6 * 60_000);
    expect(new Date(fired.get("error-rate") ?? 0).toISOString()).toBe("2025-06-01T12:00:30.000Z");
    expect(fired.has("no-probe-data")).toBe(false);
    expect(states("no-probe-data")).toBe("OK");
  });
});

describe("AlarmBook with an alarm whose source is auto", () => {
  function periodOf(
    series: MetricSeries,
    period: number,
    traffic: { requests: number; p95: number } | undefined,
  ) {
    const at = T0 + period * 10_000 + 5_000;
    const probe: Observation = {
      model: "llama",
      version: "v2",
      variant: "candidate",
      latencyMs: 200,
      error: false,
      at: new Date(at).toISOString(),
    };
    for (const s of observationSamples(probe, "modelship")) series.record(s.metric, s.value, s.at);
    if (!traffic) return;
    for (const s of trafficSamples(
      {
        model: "llama",
        version: "v2",
        variant: "candidate",
        source: "traffic",
        at: new Date(at).toISOString(),
        values: { Requests: traffic.requests, Errors: 0, LatencyP95: traffic.p95 },
      },
      "modelship",
    ))
      series.record(s.metric, s.value, s.at);
  }
  const latency = () =>
    canarySpecs().specs.find((s) => s.name === "modelship-llama-v2-latency-p95") as MetricAlarmSpec;

  it("is decided by real traffic in periods where the candidate served at least minRequests", () => {
    const series = new MetricSeries();
    for (let p = 0; p < 3; p++) periodOf(series, p, { requests: 25, p95: 3000 });
    expect(evaluateMetricAlarm(latency(), series, new Date(T0 + 31_000))).toMatchObject({
      state: "ALARM",
      value: 3000,
    });
  });

  it("is decided by the probes where real traffic was thin or not measured", () => {
    const series = new MetricSeries();
    periodOf(series, 0, { requests: 19, p95: 3000 });
    periodOf(series, 1, undefined);
    periodOf(series, 2, { requests: 3, p95: 9000 });
    expect(evaluateMetricAlarm(latency(), series, new Date(T0 + 31_000))).toMatchObject({
      state: "OK",
      value: 200,
    });
  });
});

describe("AlarmBook.metricHistory", () => {
  const span = (fromSeconds: number, toSeconds: number) => ({
    start: new Date(T0 + fromSeconds * 1000),
    end: new Date(T0 + toSeconds * 1000),
  });

  it("reads each metric alarm's metric period by period over the span, with its threshold; a period without data has no point", () => {
    const series = new MetricSeries();
    for (const [second, value] of [
      [1, 5],
      [4, 12],
      [11, 20],
      [31, 7],
    ] as const) {
      series.record(LATENCY, value, T0 + second * 1000);
    }
    const book = new AlarmBook(series);
    const composite: CompositeAlarmSpec = {
      kind: "composite",
      name: "modelship-llama-v2-rollback",
      description: "any",
      rule: 'ALARM("modelship-llama-v2-latency")',
    };
    book.put([metricAlarm(), composite], new Date(T0));

    const histories = book.metricHistory(
      ["modelship-llama-v2-latency", composite.name, "no-such-alarm"],
      span(0, 40),
      new Date(T0 + 41_000),
    );

    expect(histories).toEqual([
      {
        name: "modelship-llama-v2-latency",
        description: "test alarm",
        threshold: 10,
        comparison: "GreaterThanThreshold",
        alarmPeriodSeconds: 10,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        periodSeconds: 10,
        points: [
          { at: "2025-06-01T12:00:00.000Z", value: 12 },
          { at: "2025-06-01T12:00:10.000Z", value: 20 },
          { at: "2025-06-01T12:00:30.000Z", value: 7 },
        ],
      },
    ]);
  });

  it("reads metric math the way the alarm evaluates it", () => {
    const { specs } = canarySpecs();
    const errorRate = specs.find(
      (s): s is MetricAlarmSpec => s.kind === "metric" && s.name.endsWith("-error-rate"),
    );
    if (!errorRate) throw new Error("the canary specs have no error-rate alarm");
    const series = new MetricSeries();
    const observations: Observation[] = [false, true, false, false].map((error, i) => ({
      model: "llama",
      version: "v2",
      variant: "candidate",
      latencyMs: 100,
      error,
      at: new Date(T0 + 1000 + i * 100).toISOString(),
    }));
    for (const o of observations) {
      for (const sample of observationSamples(o, "modelship"))
        series.record(sample.metric, sample.value, sample.at);
    }
    const book = new AlarmBook(series);
    book.put([errorRate], new Date(T0));
    const [history] = book.metricHistory([errorRate.name], span(0, 10), new Date(T0 + 11_000));
    const evaluated = evaluateMetricAlarm(errorRate, series, new Date(T0 + 11_000));
    expect(history?.points.map((p) => p.value)).toEqual([evaluated.value]);
  });

  it("reads a span begun more than 3 hours ago at whole minutes, each minute's statistic over its samples", () => {
    const series = new MetricSeries({ retentionSeconds: 5 * 3600 });
    series.record(LATENCY, 5, T0 + 1_000);
    series.record(LATENCY, 30, T0 + 45_000);
    series.record(LATENCY, 8, T0 + 61_000);
    const book = new AlarmBook(series);
    book.put([metricAlarm()], new Date(T0));
    const [history] = book.metricHistory(
      ["modelship-llama-v2-latency"],
      span(0, 120),
      new Date(T0 + 4 * 3600 * 1000),
    );
    expect(history?.periodSeconds).toBe(60);
    expect(history?.points).toEqual([
      { at: "2025-06-01T12:00:00.000Z", value: 30 },
      { at: "2025-06-01T12:01:00.000Z", value: 8 },
    ]);
  });
});

describe("historyPeriodSeconds", () => {
  const now = new Date(T0);
  const hoursAgo = (hours: number) => new Date(T0 - hours * 3600 * 1000);

  it("keeps the alarm's period for a recent span the chart can show", () => {
    expect(historyPeriodSeconds(10, { start: hoursAgo(1), end: now }, now)).toBe(10);
  });

  it("reads whole minutes once the span begins more than 3 hours ago", () => {
    expect(historyPeriodSeconds(10, { start: hoursAgo(3.5), end: hoursAgo(3.4) }, now)).toBe(60);
  });

  it("coarsens to whole minutes so a long span has at most MAX_HISTORY_PERIODS points", () => {
    const period = historyPeriodSeconds(60, { start: hoursAgo(48), end: now }, now);
    expect(period % 60).toBe(0);
    expect((48 * 3600) / period).toBeLessThanOrEqual(MAX_HISTORY_PERIODS);
    expect((48 * 3600) / (period - 60)).toBeGreaterThan(MAX_HISTORY_PERIODS);
  });
});
