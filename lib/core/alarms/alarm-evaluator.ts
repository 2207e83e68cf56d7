// CloudWatch's alarm state machine, applied in-process to the same specs the AWS adapter sends to
// PutMetricAlarm / PutCompositeAlarm, so the local runtime rolls back when CloudWatch would.
//
// A metric alarm at `now` looks at whole periods only: the current, incomplete period is never evaluated.
// It reads an evaluation range of EvaluationPeriods + 2 periods (`evaluationRangePeriods`), then, as the
// CloudWatch user guide describes ("How alarm state is evaluated when data is missing"):
// - with at least N real datapoints in the range, the N most recent decide (M of them breaching → ALARM);
//   TreatMissingData does not matter;
// - with none, `missing` → INSUFFICIENT_DATA, `ignore` → the state stays, `breaching` → ALARM,
//   `notBreaching` → OK;
// - with some (r < N), every real datapoint counts and the N − r gaps are filled as TreatMissingData says
//   (`breaching`, `notBreaching`); with `missing` and `ignore` they count as neither: M real breaches →
//   ALARM, a real datapoint within the threshold → OK, and when every real datapoint breaches but fewer than
//   M do, `missing` goes to ALARM once the oldest is M periods old (the guide's "premature alarm state"
//   rule; younger, OK) while `ignore` keeps the state. This reproduces every row of the guide's two tables.
// A percentile alarm with `evaluateLowSampleCountPercentile: "ignore"` keeps its state while a datapoint it
// would use has fewer samples than 10/(1-p) (p ≥ 0.5) or 10/p (p < 0.5).
// A composite alarm is ALARM when its rule holds and OK otherwise; INSUFFICIENT_DATA only while it names an
// alarm the book does not have.

import type {
  AlarmSpec,
  AlarmState,
  AlarmStateValue,
  ComparisonOperator,
  CompositeAlarmSpec,
  MetricAlarmSpec,
  TreatMissingData,
} from "./alarm-spec";
import { evaluationRangePeriods, isBreaching, summarizeEvaluation } from "./alarm-evaluation";
import {
  type AlarmMetricHistory,
  historyPeriodSeconds,
  MAX_HISTORY_PERIODS,
  specHistory,
  type TimeSpan,
} from "./alarm-history";
import { type CompositeRule, parseCompositeRule, ruleHolds } from "./composite-rule";
import { type MetricMathExpression, evaluateMetricMath, parseMetricMath } from "./metric-math";
import { type MetricSeries, parseStatistic, periodStart } from "./metric-series";

/** The most metricStat entries, and the most expression entries, a metric-math alarm may have. */
const MAX_QUERIES_OF_A_KIND = 10;
const INITIAL_REASON = "Unchecked: Initial alarm creation";

/** A state change `evaluateAll` saw: the alarm, the state it left and the state it is in now. */
export interface AlarmTransition {
  readonly name: string;
  readonly from: AlarmStateValue;
  readonly to: AlarmStateValue;
  readonly state: AlarmState;
}

/** The book refused specs: every problem found, each naming the alarm and the field. */
export class AlarmSpecInvalid extends Error {
  override readonly name = "AlarmSpecInvalid";

  constructor(readonly problems: readonly string[]) {
    super(`Alarm specs refused:\n${problems.map((p) => `- ${p}`).join("\n")}`);
  }
}

/** One period as the evaluator sees it: its value and, for a single metric, how many samples made it. */
interface PeriodValue {
  readonly value: number;
  readonly sampleCount?: number;
}

/** The state of a metric alarm at `now`, given its state before (undefined for a new alarm). */
export function evaluateMetricAlarm(
  spec: MetricAlarmSpec,
  series: MetricSeries,
  now: Date,
  previous?: AlarmState,
): AlarmState {
  return evaluatePrepared(prepareMetricAlarm(spec), series, now, previous);
}

/** The state of a composite alarm given its members' states (a member missing from `members` is unknown). */
export function evaluateCompositeAlarm(
  spec: CompositeAlarmSpec,
  members: ReadonlyMap<string, AlarmState>,
  now: Date,
  previous?: AlarmState,
): AlarmState {
  return evaluateComposite(spec, parseCompositeRule(spec.rule), members, now, previous);
}

/**
 * Alarms and their last states, as CloudWatch keeps them: `put` creates or updates (a new alarm starts in
 * INSUFFICIENT_DATA, an updated one keeps its state), `evaluateAll` re-evaluates every alarm — metric alarms
 * first, then composites after the alarms they name — and returns the state changes.
 */
export class AlarmBook {
  private readonly alarms = new Map<string, BookEntry>();
  /** Composite names, each after every composite it names. */
  private compositeOrder: string[] = [];

  constructor(private readonly series: MetricSeries) {}

  /** Creates or updates alarms; refuses the whole batch, naming every problem, if any spec is invalid. */
  put(specs: readonly AlarmSpec[], now: Date): void {
    const prepared = new Map<string, PreparedAlarm>();
    const problems: string[] = [];
    for (const spec of specs) {
      try {
        prepared.set(spec.name, spec.kind === "metric" ? prepareMetricAlarm(spec) : prepareComposite(spec));
      } catch (error) {
        if (!(error instanceof AlarmSpecInvalid)) throw error;
        problems.push(...error.problems);
      }
    }
    const known = new Set([...this.alarms.keys(), ...specs.map((s) => s.name)]);
    for (const alarm of prepared.values()) {
      if (alarm.kind !== "composite") continue;
      for (const member of alarm.rule.alarmNames) {
        if (!known.has(member)) {
          problems.push(
            `${alarm.spec.name}: its rule names alarm '${member}', which does not exist; put the alarms a composite names before (or with) it.`,
          );
        }
      }
    }
    const order = problems.length === 0 ? this.orderComposites(prepared, problems) : [];
    if (problems.length > 0) throw new AlarmSpecInvalid(problems);

    for (const [name, alarm] of prepared) {
      const existing = this.alarms.get(name);
      const state = existing?.state ?? {
        name,
        state: "INSUFFICIENT_DATA" as const,
        reason: INITIAL_REASON,
        ...(alarm.kind === "metric" ? { threshold: alarm.spec.threshold } : {}),
        since: now.toISOString(),
      };
      this.alarms.set(name, { alarm, state });
      if (alarm.kind === "metric") this.series.retainAtLeast(retentionSeconds(alarm.spec));
    }
    this.compositeOrder = order;
  }

  /** Deletes alarms; names the book does not have are fine. */
  remove(names: readonly string[]): void {
    for (const name of names) this.alarms.delete(name);
    this.compositeOrder = this.compositeOrder.filter((name) => this.alarms.has(name));
  }

  /** The states of the named alarms, in the order asked; like DescribeAlarms, missing ones are left out. */
  states(names: readonly string[]): AlarmState[] {
    return names.flatMap((name) => {
      const entry = this.alarms.get(name);
      return entry ? [entry.state] : [];
    });
  }

  /**
   * The metric of each named metric alarm over `span`, period by period, as far back as the series keeps it;
   * composites and names the book does not have are left out. Read at historyPeriodSeconds' period: the
   * statistic over the coarser period's samples, as CloudWatch aggregates a longer period.
   */
  metricHistory(names: readonly string[], span: TimeSpan, now: Date): AlarmMetricHistory[] {
    return names.flatMap((name) => {
      const alarm = this.alarms.get(name)?.alarm;
      if (alarm?.kind !== "metric") return [];
      const { spec } = alarm;
      const period = historyPeriodSeconds(spec.periodSeconds, span, now);
      const periodMs = period * 1000;
      const first = periodStart(span.start.getTime(), period);
      const periods = Math.min(
        MAX_HISTORY_PERIODS + 1,
        Math.max(0, Math.floor((span.end.getTime() - first) / periodMs) + 1),
      );
      const atPeriod = { ...alarm, spec: withPeriod(spec, period) };
      const values = readPeriods(atPeriod, this.series, first, periods);
      const points = values.flatMap((p, i) =>
        p === undefined ? [] : [{ at: new Date(first + i * periodMs).toISOString(), value: p.value }],
      );
      return [specHistory(spec, period, points)];
    });
  }

  /** Re-evaluates every alarm at `now`; returns the alarms whose state value changed, metric alarms first. */
  evaluateAll(now: Date): AlarmTransition[] {
    const transitions: AlarmTransition[] = [];
    const apply = (entry: BookEntry, state: AlarmState) => {
      if (state.state !== entry.state.state) {
        transitions.push({ name: state.name, from: entry.state.state, to: state.state, state });
      }
      entry.state = state;
    };
    for (const entry of this.alarms.values()) {
      if (entry.alarm.kind === "metric") {
        apply(entry, evaluatePrepared(entry.alarm, this.series, now, entry.state));
      }
    }
    const members = new Map([...this.alarms].map(([name, entry]) => [name, entry.state]));
    for (const name of this.compositeOrder) {
      const entry = this.alarms.get(name);
      if (entry?.alarm.kind !== "composite") continue;
      const { spec, rule } = entry.alarm;
      apply(entry, evaluateComposite(spec, rule, members, now, entry.state));
      members.set(name, entry.state);
    }
    return transitions;
  }

  /** Orders every composite (old and new) after the composites it names; a cycle is a problem. */
  private orderComposites(prepared: ReadonlyMap<string, PreparedAlarm>, problems: string[]): string[] {
    const ruleOf = (name: string): CompositeRule | undefined => {
      const alarm = prepared.get(name) ?? this.alarms.get(name)?.alarm;
      return alarm?.kind === "composite" ? alarm.rule : undefined;
    };
    const names = new Set([...this.alarms.keys(), ...prepared.keys()].filter((name) => ruleOf(name)));
    const order: string[] = [];
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (name: string, path: readonly string[]): void => {
      if (done.has(name)) return;
      if (visiting.has(name)) {
        problems.push(`composite alarms name each other in a cycle: ${[...path, name].join(" → ")}.`);
        return;
      }
      visiting.add(name);
      for (const member of ruleOf(name)?.alarmNames ?? []) {
        if (names.has(member)) visit(member, [...path, name]);
      }
      visiting.delete(name);
      done.add(name);
      order.push(name);
    };
    for (const name of names) visit(name, []);
    return order;
  }
}

// ── Preparing specs ──────────────────────────────────────────────────────────────────────────────────

type PreparedAlarm = PreparedMetricAlarm | PreparedComposite;

interface PreparedMetricAlarm {
  readonly kind: "metric";
  readonly spec: MetricAlarmSpec;
  /** For metric math: each expression id's parsed expression, and the id whose values are the alarm's. */
  readonly expressions: ReadonlyMap<string, MetricMathExpression>;
  /** Percent of a percentile alarm on a single metric (for the low-sample rule). */
  readonly percentile?: number;
}

interface PreparedComposite {
  readonly kind: "composite";
  readonly spec: CompositeAlarmSpec;
  readonly rule: CompositeRule;
}

interface BookEntry {
  readonly alarm: PreparedAlarm;
  state: AlarmState;
}

function prepareComposite(spec: CompositeAlarmSpec): PreparedComposite {
  const problems = nameProblems(spec.name);
  let rule: CompositeRule | undefined;
  try {
    rule = parseCompositeRule(spec.rule);
    if (rule.alarmNames.includes(spec.name)) problems.push(`${spec.name}: its rule names the alarm itself.`);
  } catch (error) {
    problems.push(`${spec.name}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (problems.length > 0 || !rule) throw new AlarmSpecInvalid(problems);
  return { kind: "composite", spec, rule };
}

/** Checks a metric alarm spec as PutMetricAlarm would, collecting every problem. */
function prepareMetricAlarm(spec: MetricAlarmSpec): PreparedMetricAlarm {
  const problems = nameProblems(spec.name);
  const at = (field: string, message: string) => problems.push(`${spec.name}: ${field} ${message}`);
  const { periodSeconds, evaluationPeriods, datapointsToAlarm } = spec;
  const highResolution = [10, 20, 30].includes(periodSeconds);
  if (
    !Number.isInteger(periodSeconds) ||
    periodSeconds <= 0 ||
    (!highResolution && periodSeconds % 60 !== 0)
  ) {
    at("periodSeconds", `is ${periodSeconds}; expected 10, 20 or 30 (high resolution) or a multiple of 60.`);
  }
  if (!Number.isInteger(evaluationPeriods) || evaluationPeriods < 1) {
    at("evaluationPeriods", `is ${evaluationPeriods}; expected a whole number ≥ 1.`);
  } else if (evaluationPeriods * periodSeconds > 86_400) {
    at(
      "evaluationPeriods",
      `× periodSeconds is ${evaluationPeriods * periodSeconds} s; CloudWatch evaluates at most one day (86400 s).`,
    );
  }
  if (
    !Number.isInteger(datapointsToAlarm) ||
    datapointsToAlarm < 1 ||
    datapointsToAlarm > evaluationPeriods
  ) {
    at(
      "datapointsToAlarm",
      `is ${datapointsToAlarm}; expected a whole number from 1 to evaluationPeriods (${evaluationPeriods}).`,
    );
  }
  if (!Number.isFinite(spec.threshold)) at("threshold", `is ${spec.threshold}; expected a finite number.`);

  const expressions = new Map<string, MetricMathExpression>();
  let percentile: number | undefined;
  if ((spec.metric === undefined) === (spec.metrics === undefined)) {
    at("metric/metrics", "must have exactly one of them: a single metric with a statistic, or metric math.");
  } else if (spec.metric) {
    const { statistic, extendedStatistic } = spec.metric;
    if ((statistic === undefined) === (extendedStatistic === undefined)) {
      at("metric", "needs exactly one of statistic (Sum, Average, …) and extendedStatistic (p95, …).");
    } else if (statistic !== undefined && parseStatistic(statistic)?.kind === "percentile") {
      at("metric.statistic", `is '${statistic}'; a percentile goes in extendedStatistic.`);
    } else if (extendedStatistic !== undefined) {
      const parsed = parseStatistic(extendedStatistic);
      if (parsed?.kind !== "percentile") {
        at(
          "metric.extendedStatistic",
          `is '${extendedStatistic}'; expected a percentile p0 to p100, e.g. p95 or p99.9.`,
        );
      } else {
        percentile = parsed.percent;
      }
    } else if (!parseStatistic(statistic ?? "")) {
      at("metric.statistic", `is '${statistic}'; expected SampleCount, Sum, Average, Minimum or Maximum.`);
    }
  } else if (spec.metrics) {
    checkMetricQueries(spec, expressions, at);
  }
  if (problems.length > 0) throw new AlarmSpecInvalid(problems);
  return { kind: "metric", spec, expressions, ...(percentile === undefined ? {} : { percentile }) };
}

function checkMetricQueries(
  spec: MetricAlarmSpec,
  expressions: Map<string, MetricMathExpression>,
  at: (field: string, message: string) => void,
): void {
  const queries = spec.metrics ?? [];
  const ids = new Set<string>();
  for (const [index, query] of queries.entries()) {
    const field = `metrics[${index}]`;
    if (!/^[a-z][A-Za-z0-9_]*$/.test(query.id)) {
      at(`${field}.id`, `is '${query.id}'; expected a lowercase letter, then letters, digits or '_'.`);
    }
    if (ids.has(query.id)) at(`${field}.id`, `'${query.id}' is used twice.`);
    ids.add(query.id);
    if ((query.expression === undefined) === (query.metricStat === undefined)) {
      at(field, "needs exactly one of expression and metricStat.");
    } else if (query.metricStat) {
      if (!parseStatistic(query.metricStat.stat)) {
        at(
          `${field}.metricStat.stat`,
          `is '${query.metricStat.stat}'; expected Sum, Average, … or a percentile like p95.`,
        );
      }
      if (query.metricStat.periodSeconds !== spec.periodSeconds) {
        at(
          `${field}.metricStat.periodSeconds`,
          `is ${query.metricStat.periodSeconds}; every metric of the alarm must use its period (${spec.periodSeconds}).`,
        );
      }
    } else if (query.expression !== undefined) {
      try {
        expressions.set(query.id, parseMetricMath(query.expression));
      } catch (error) {
        at(`${field}.expression`, error instanceof Error ? error.message : String(error));
      }
    }
  }
  // PutMetricAlarm takes at most 10 metricStat and 10 expression entries (the API reference, `Metrics`).
  for (const [kind, count] of [
    ["metricStat", queries.filter((q) => q.metricStat).length],
    ["expression", queries.filter((q) => q.expression !== undefined).length],
  ] as const) {
    if (count > MAX_QUERIES_OF_A_KIND) {
      at("metrics", `has ${count} ${kind} entries; CloudWatch takes at most ${MAX_QUERIES_OF_A_KIND}.`);
    }
  }
  const returned = queries.filter((q) => q.returnData);
  if (returned.length !== 1) {
    at(
      "metrics",
      `has ${returned.length} entries with returnData true; exactly one must be, the value the alarm watches.`,
    );
  }
  for (const [id, expression] of expressions) {
    for (const used of expression.ids) {
      if (!ids.has(used)) at(`metrics '${id}'`, `uses '${used}', which is not the id of any entry.`);
    }
  }
  const cycle = findCycle(expressions);
  if (cycle) at("metrics", `expressions use each other in a cycle: ${cycle.join(" → ")}.`);
}

function findCycle(expressions: ReadonlyMap<string, MetricMathExpression>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const visit = (id: string, path: readonly string[]): string[] | undefined => {
    if (state.get(id) === "done") return undefined;
    if (state.get(id) === "visiting") return [...path, id];
    state.set(id, "visiting");
    for (const used of expressions.get(id)?.ids ?? []) {
      const cycle = expressions.has(used) ? visit(used, [...path, id]) : undefined;
      if (cycle) return cycle;
    }
    state.set(id, "done");
    return undefined;
  };
  for (const id of expressions.keys()) {
    const cycle = visit(id, []);
    if (cycle) return cycle;
  }
  return undefined;
}

function nameProblems(name: string): string[] {
  if (name.length < 1 || name.length > 255) {
    return [`alarm name '${name.slice(0, 40)}…' has ${name.length} characters; expected 1 to 255.`];
  }
  const control = [...name].find((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f);
  if (control !== undefined) {
    return [
      `alarm name '${JSON.stringify(name).slice(1, -1)}' contains a control character; CloudWatch refuses them.`,
    ];
  }
  return [];
}

/** The spec read at another period: its metric's, or every metricStat of its metric math. */
function withPeriod(spec: MetricAlarmSpec, periodSeconds: number): MetricAlarmSpec {
  if (periodSeconds === spec.periodSeconds) return spec;
  return {
    ...spec,
    periodSeconds,
    ...(spec.metrics && {
      metrics: spec.metrics.map((query) =>
        query.metricStat ? { ...query, metricStat: { ...query.metricStat, periodSeconds } } : query,
      ),
    }),
  };
}

/** History a metric alarm needs: its evaluation range, the current period and one period of margin. */
function retentionSeconds(spec: MetricAlarmSpec): number {
  return (evaluationRangePeriods(spec.evaluationPeriods) + 2) * spec.periodSeconds;
}

// ── Evaluating ───────────────────────────────────────────────────────────────────────────────────────

function evaluatePrepared(
  alarm: PreparedMetricAlarm,
  series: MetricSeries,
  now: Date,
  previous: AlarmState | undefined,
): AlarmState {
  const { spec } = alarm;
  const range = evaluationRangePeriods(spec.evaluationPeriods);
  const periodMs = spec.periodSeconds * 1000;
  // The period `now` falls in has not ended: the newest period evaluated is the one before it.
  const firstPeriodStart = periodStart(now.getTime(), spec.periodSeconds) - range * periodMs;
  const periods = readPeriods(alarm, series, firstPeriodStart, range);
  const newest = [...periods].reverse().find((p) => p !== undefined);
  const verdict = decide(spec, periods);
  const base = {
    name: spec.name,
    threshold: spec.threshold,
    ...(newest === undefined ? {} : { value: newest.value }),
    evaluation: summarizeEvaluation(spec, periods.map((p) => p?.value).reverse()),
  };
  const lowSamples =
    alarm.percentile !== undefined &&
    spec.evaluateLowSampleCountPercentile === "ignore" &&
    verdict.used.some(
      (p) => (p.sampleCount ?? Number.POSITIVE_INFINITY) < significantSamples(alarm.percentile ?? 0),
    );
  if (verdict.state === "retain" || lowSamples) {
    return {
      ...base,
      state: previous?.state ?? "INSUFFICIENT_DATA",
      reason: previous?.reason ?? INITIAL_REASON,
      since: previous?.since ?? now.toISOString(),
    };
  }
  return {
    ...base,
    state: verdict.state,
    reason: verdict.reason,
    since: previous?.state === verdict.state && previous.since ? previous.since : now.toISOString(),
  };
}

/** `range` periods from `firstPeriodStart`, oldest first; undefined where there is no datapoint. */
function readPeriods(
  alarm: PreparedMetricAlarm,
  series: MetricSeries,
  firstPeriodStart: number,
  range: number,
): (PeriodValue | undefined)[] {
  const { spec } = alarm;
  const query = { periodSeconds: spec.periodSeconds, firstPeriodStart, periods: range };
  if (spec.metric) {
    const statistic = spec.metric.extendedStatistic ?? spec.metric.statistic ?? "";
    return series.aggregate(spec.metric, { ...query, statistic });
  }
  const values = new Map<string, (number | undefined)[]>();
  const periodStarts = Array.from(
    { length: range },
    (_, i) => firstPeriodStart + i * spec.periodSeconds * 1000,
  );
  const resolve = (id: string): (number | undefined)[] | undefined => {
    const known = values.get(id);
    if (known) return known;
    const entry = spec.metrics?.find((q) => q.id === id);
    let result: (number | undefined)[] | undefined;
    if (entry?.metricStat) {
      result = series
        .aggregate(entry.metricStat.metric, { ...query, statistic: entry.metricStat.stat })
        .map((p) => p?.value);
    } else {
      const expression = alarm.expressions.get(id);
      if (expression) result = evaluateMetricMath(expression, resolve, range, periodStarts);
    }
    if (result) values.set(id, result);
    return result;
  };
  const returned = spec.metrics?.find((q) => q.returnData);
  return (resolve(returned?.id ?? "") ?? []).map((value) => (value === undefined ? undefined : { value }));
}

type Verdict =
  | { readonly state: "retain"; readonly used: readonly PeriodValue[] }
  | { readonly state: AlarmStateValue; readonly reason: string; readonly used: readonly PeriodValue[] };

function decide(spec: MetricAlarmSpec, periods: readonly (PeriodValue | undefined)[]): Verdict {
  const n = spec.evaluationPeriods;
  const m = spec.datapointsToAlarm;
  const breaches = (p: PeriodValue) => isBreaching(p.value, spec.comparison, spec.threshold);
  // Real datapoints with their age in periods (1 = the newest period evaluated), newest first.
  const real = periods
    .map((p, i) => (p === undefined ? undefined : { ...p, age: periods.length - i }))
    .filter((p) => p !== undefined)
    .reverse();
  const phrase = comparisonPhrase(spec.comparison);
  const threshold = formatValue(spec.threshold);

  if (real.length >= n) {
    const used = real.slice(0, n);
    const breachingCount = used.filter(breaches).length;
    const list = `[${used.map((p) => formatValue(p.value)).join(", ")}]`;
    if (breachingCount >= m) {
      return {
        state: "ALARM",
        reason: `Threshold Crossed: ${breachingCount} out of the last ${n} datapoints ${list} ${were(breachingCount)} ${phrase} the threshold (${threshold})`,
        used,
      };
    }
    const calm = n - breachingCount;
    return {
      state: "OK",
      reason: `Threshold Crossed: ${calm} out of the last ${n} datapoints ${list} ${were(calm)} not ${phrase} the threshold (${threshold})`,
      used,
    };
  }

  if (real.length === 0) return allMissing(spec.treatMissingData, n, periods.length);

  const fill = n - real.length;
  const breachingReal = real.filter(breaches).length;
  const list = `[${real.map((p) => formatValue(p.value)).join(", ")}]`;
  const missingClause = (treatedAs: string) =>
    `, with ${fill} missing ${fill === 1 ? "datapoint" : "datapoints"} treated as ${treatedAs}`;
  const alarm = (count: number, clause: string): Verdict => ({
    state: "ALARM",
    reason: `Threshold Crossed: ${count} out of the last ${n} datapoints ${list} ${were(count)} ${phrase} the threshold (${threshold})${clause}`,
    used: real,
  });
  const ok = (clause: string): Verdict => ({
    state: "OK",
    reason: `Threshold Crossed: ${real.length - breachingReal} out of the last ${real.length} datapoints ${list} ${were(real.length - breachingReal)} not ${phrase} the threshold (${threshold})${clause}`,
    used: real,
  });

  switch (spec.treatMissingData) {
    case "breaching":
      return breachingReal + fill >= m
        ? alarm(breachingReal + fill, missingClause("breaching"))
        : ok(missingClause("breaching"));
    case "notBreaching":
      return breachingReal >= m
        ? alarm(breachingReal, missingClause("not breaching"))
        : ok(missingClause("not breaching"));
    case "missing":
    case "ignore": {
      if (breachingReal >= m) return alarm(breachingReal, "");
      if (breachingReal < real.length) return ok("");
      // Every real datapoint breaches, but there are too few of them to reach M.
      if (spec.treatMissingData === "ignore") return { state: "retain", used: real };
      const oldest = real[real.length - 1];
      if (oldest && oldest.age >= m) {
        return {
          state: "ALARM",
          reason: `Threshold Crossed: ${breachingReal} out of the last ${real.length} datapoints ${list} ${were(breachingReal)} ${phrase} the threshold (${threshold}), the oldest ${oldest.age} periods ago; the periods without data do not contradict it`,
          used: real,
        };
      }
      return {
        state: "OK",
        reason: `Threshold Crossed: ${breachingReal} out of the last ${real.length} datapoints ${list} ${were(breachingReal)} ${phrase} the threshold (${threshold}), fewer than the ${m} needed; the other periods have no data`,
        used: real,
      };
    }
  }
}

function allMissing(treat: TreatMissingData, n: number, range: number): Verdict {
  switch (treat) {
    case "missing":
      return {
        state: "INSUFFICIENT_DATA",
        reason: `Insufficient Data: no datapoints were received for ${range} periods.`,
        used: [],
      };
    case "ignore":
      return { state: "retain", used: [] };
    case "breaching":
      return {
        state: "ALARM",
        reason: `Threshold Crossed: no datapoints were received for ${n} periods and ${n} missing datapoints were treated as [Breaching].`,
        used: [],
      };
    case "notBreaching":
      return {
        state: "OK",
        reason: `Threshold Crossed: no datapoints were received for ${n} periods and ${n} missing datapoints were treated as [NonBreaching].`,
        used: [],
      };
  }
}

function evaluateComposite(
  spec: CompositeAlarmSpec,
  rule: CompositeRule,
  members: ReadonlyMap<string, AlarmState>,
  now: Date,
  previous: AlarmState | undefined,
): AlarmState {
  const unknown = rule.alarmNames.filter((name) => !members.has(name));
  const since = (state: AlarmStateValue) =>
    previous?.state === state && previous.since ? previous.since : now.toISOString();
  if (unknown.length > 0) {
    return {
      name: spec.name,
      state: "INSUFFICIENT_DATA",
      reason: `The rule names ${unknown.map((n) => `'${n}'`).join(", ")}, which ${unknown.length === 1 ? "does" : "do"} not exist.`,
      since: since("INSUFFICIENT_DATA"),
    };
  }
  const stateOf = (name: string): AlarmStateValue => members.get(name)?.state ?? "INSUFFICIENT_DATA";
  const holds = ruleHolds(rule, stateOf);
  const state: AlarmStateValue = holds ? "ALARM" : "OK";
  const named = rule.alarmNames.map((name) => {
    const member = members.get(name);
    return member?.state === "ALARM" ? `${name} is ALARM (${member.reason})` : `${name} is ${stateOf(name)}`;
  });
  return {
    name: spec.name,
    state,
    reason: `${rule.source} is ${holds ? "TRUE" : "FALSE"}${named.length > 0 ? `: ${named.join("; ")}` : ""}.`,
    since: since(state),
  };
}

function comparisonPhrase(comparison: ComparisonOperator): string {
  switch (comparison) {
    case "GreaterThanThreshold":
      return "greater than";
    case "GreaterThanOrEqualToThreshold":
      return "greater than or equal to";
    case "LessThanThreshold":
      return "less than";
    case "LessThanOrEqualToThreshold":
      return "less than or equal to";
  }
}

/** Samples below which a percentile is not significant: 10/(1-p) for p in [0.5, 1), 10/p below 0.5. */
function significantSamples(percent: number): number {
  if (percent <= 0 || percent >= 100) return 0;
  const bound = percent >= 50 ? 1000 / (100 - percent) : 1000 / percent;
  return Math.round(bound * 1e6) / 1e6;
}

function were(count: number): string {
  return count === 1 ? "was" : "were";
}

/** As CloudWatch prints a datapoint: `2000.0`, `2610.5`. */
function formatValue(value: number): string {
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}
