// The Alarms port on this machine: the same specs the AWS adapter sends to PutMetricAlarm, kept in an
// AlarmBook (lib/core/alarms/alarm-evaluator.ts) over the local metric series and evaluated in-process with
// CloudWatch's semantics. A loop re-evaluates every alarm on a short interval and, for each alarm named
// with the pipeline's alarm prefix (`modelship-*` by default) that goes into ALARM, calls `onAlarm` once per transition — as the EventBridge rule on
// `CloudWatch Alarm State Change` calls the Rollback function on AWS. A failing `onAlarm` is logged; the loop
// goes on. Its timer is unref'ed; `close()` stops it and waits for the `onAlarm` calls in flight.

import type { AlarmMetricHistory, TimeSpan } from "../core/alarms/alarm-history";
import type { AlarmSpec, AlarmState } from "../core/alarms/alarm-spec";
import type { AlarmBook } from "../core/alarms/alarm-evaluator";
import type { Alarms } from "../ports";

/** The alarms whose ALARM starts a rollback, unless told otherwise: the prefix the EventBridge rule matches on AWS. */
const DEFAULT_ALARM_PREFIX = "modelship-";
/**
 * Evaluations per second by default: the newest whole period is judged within this interval of its end,
 * so an ALARM is acted on well inside a second of the period boundary that produced it.
 */
const DEFAULT_EVALUATE_EVERY_MS = 250;

export interface LocalAlarmsOptions {
  readonly book: AlarmBook;
  /** Called once for each `modelship-*` alarm's transition into ALARM: the control plane's Rollback. */
  readonly onAlarm: (state: AlarmState, spec: AlarmSpec) => void | Promise<void>;
  /** Where a failed `onAlarm` is told. */
  readonly log: (message: string) => void;
  readonly now?: () => Date;
  /** The pipeline's alarm name prefix (`canaryMetrics.alarmPrefix`). Default `modelship-`. */
  readonly alarmPrefix?: string;
}

export class LocalAlarms implements Alarms {
  private readonly options: LocalAlarmsOptions;
  private readonly now: () => Date;
  private readonly specs = new Map<string, AlarmSpec>();
  private readonly handling = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: LocalAlarmsOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  async ensure(specs: readonly AlarmSpec[]): Promise<void> {
    this.options.book.put(specs, this.now());
    for (const spec of specs) this.specs.set(spec.name, structuredClone(spec));
  }

  async states(names: readonly string[]): Promise<AlarmState[]> {
    return structuredClone(this.options.book.states(names));
  }

  async metricHistory(names: readonly string[], span: TimeSpan): Promise<AlarmMetricHistory[]> {
    return this.options.book.metricHistory(names, span, this.now());
  }

  async remove(names: readonly string[]): Promise<void> {
    this.options.book.remove(names);
    for (const name of names) this.specs.delete(name);
  }

  /** Starts evaluating every `everyMs` (again: the interval changes). */
  start(everyMs: number = DEFAULT_EVALUATE_EVERY_MS): void {
    if (!(everyMs > 0)) throw new RangeError(`The alarm loop needs an interval > 0 ms, got ${everyMs}.`);
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.evaluate(), everyMs);
    this.timer.unref();
  }

  /** Stops the loop and waits for the `onAlarm` calls still running. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.handling);
  }

  private evaluate(): void {
    let transitions;
    try {
      transitions = this.options.book.evaluateAll(this.now());
    } catch (error) {
      this.options.log(
        `Evaluating the alarms failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    for (const transition of transitions) {
      const spec = this.specs.get(transition.name);
      if (
        transition.to !== "ALARM" ||
        !spec ||
        !transition.name.startsWith(this.options.alarmPrefix ?? DEFAULT_ALARM_PREFIX)
      )
        continue;
      const handled = Promise.resolve()
        .then(() => this.options.onAlarm(structuredClone(transition.state), structuredClone(spec)))
        .catch((error: unknown) => {
          this.options.log(
            `Acting on alarm ${transition.name} (ALARM: ${transition.state.reason}) failed: ${error instanceof Error ? error.message : String(error)}`,
          );
        })
        .finally(() => this.handling.delete(handled));
      this.handling.add(handled);
    }
  }
}
