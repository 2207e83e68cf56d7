// An in-memory Alarms port (lib/ports.ts): `ensure` creates or updates alarms — a composite may name only
// alarms that exist once the whole batch is applied — and a new alarm starts in INSUFFICIENT_DATA; `states`
// answers for the alarms that exist (like DescribeAlarms, a missing name is left out); `remove` ignores
// missing names. The test plays CloudWatch's evaluator: it sets an alarm's state, value and threshold, and
// the values `metricHistory` answers for an alarm's metric (`setPoints`), or makes it fail (`failHistory`).

import {
  type AlarmMetricHistory,
  type AlarmMetricPoint,
  specHistory,
  type TimeSpan,
} from "../../lib/core/alarms/alarm-history";
import type { AlarmSpec, AlarmState, AlarmStateValue } from "../../lib/core/alarms/alarm-spec";
import type { Alarms } from "../../lib/ports";

export class MemoryAlarms implements Alarms {
  /** How many times `ensure` was called, and with how many specs. */
  readonly ensureCalls: number[] = [];
  private readonly alarms = new Map<string, { spec: AlarmSpec; state: AlarmState }>();
  private readonly points = new Map<string, readonly AlarmMetricPoint[]>();
  private historyFailure: Error | undefined;
  /** The spans `metricHistory` was asked for. */
  readonly historySpans: TimeSpan[] = [];

  async ensure(specs: readonly AlarmSpec[]): Promise<void> {
    const names = new Set([...this.alarms.keys(), ...specs.map((s) => s.name)]);
    for (const spec of specs) {
      if (spec.kind !== "composite") continue;
      for (const [, named] of spec.rule.matchAll(/ALARM\("([^"]+)"\)/g)) {
        if (named && !names.has(named))
          throw new Error(`Composite ${spec.name} names a missing alarm ${named}.`);
      }
    }
    this.ensureCalls.push(specs.length);
    for (const spec of specs) {
      const state = this.alarms.get(spec.name)?.state ?? {
        name: spec.name,
        state: "INSUFFICIENT_DATA" as const,
        reason: "Unchecked: Initial alarm creation",
        ...(spec.kind === "metric" ? { threshold: spec.threshold } : {}),
      };
      this.alarms.set(spec.name, { spec: structuredClone(spec), state });
    }
  }

  async states(names: readonly string[]): Promise<AlarmState[]> {
    return names.flatMap((name) => {
      const alarm = this.alarms.get(name);
      return alarm ? [structuredClone(alarm.state)] : [];
    });
  }

  /** Each metric alarm's points set by `setPoints` that fall in the span, at the alarm's period. */
  async metricHistory(names: readonly string[], span: TimeSpan): Promise<AlarmMetricHistory[]> {
    this.historySpans.push(span);
    if (this.historyFailure) throw this.historyFailure;
    return names.flatMap((name) => {
      const spec = this.alarms.get(name)?.spec;
      if (spec?.kind !== "metric") return [];
      const inSpan = (this.points.get(name) ?? []).filter((p) => {
        const at = Date.parse(p.at);
        return at >= span.start.getTime() && at <= span.end.getTime();
      });
      return [specHistory(spec, spec.periodSeconds, structuredClone(inSpan))];
    });
  }

  /** What `metricHistory` answers for the alarm's metric (points outside the asked span are left out). */
  setPoints(name: string, points: readonly AlarmMetricPoint[]): void {
    this.points.set(name, points);
  }

  /** Makes every later `metricHistory` call throw `error`, as CloudWatch refusing GetMetricData would. */
  failHistory(error: Error): void {
    this.historyFailure = error;
  }

  async remove(names: readonly string[]): Promise<void> {
    for (const name of names) this.alarms.delete(name);
  }

  /** What CloudWatch's evaluator would decide; the threshold stays the spec's unless given. */
  setState(
    name: string,
    state: AlarmStateValue,
    detail: { value?: number; threshold?: number; reason?: string } = {},
  ): void {
    const alarm = this.alarms.get(name);
    if (!alarm) throw new Error(`MemoryAlarms has no alarm ${name}.`);
    const threshold = detail.threshold ?? alarm.state.threshold;
    alarm.state = {
      name,
      state,
      reason: detail.reason ?? `Set by the test to ${state}.`,
      ...(detail.value === undefined ? {} : { value: detail.value }),
      ...(threshold === undefined ? {} : { threshold }),
    };
  }

  get names(): string[] {
    return [...this.alarms.keys()];
  }

  spec(name: string): AlarmSpec | undefined {
    return this.alarms.get(name)?.spec;
  }
}
