// The canary's alarms in sentences: which alarm fired, with its metric value next to its threshold (the
// reason a rollback records and a user reads), and a one-line status of every alarm for CheckCanary.

import type { AlarmState } from "../core/alarms/alarm-spec";

/** Alarms in ALARM: metric alarms (they carry the value and threshold) before the composites over them. */
function firingAlarms(states: readonly AlarmState[]): AlarmState[] {
  const firing = states.filter((s) => s.state === "ALARM");
  return [...firing.filter((s) => s.value !== undefined), ...firing.filter((s) => s.value === undefined)];
}

/** `alarm modelship-llama-v2-latency-p95 is in ALARM: 2412 against a threshold of 2000` */
export function describeFiringAlarm(alarm: AlarmState): string {
  const measured =
    alarm.value !== undefined && alarm.threshold !== undefined
      ? `: ${formatNumber(alarm.value)} against a threshold of ${formatNumber(alarm.threshold)}`
      : alarm.reason
        ? ` (${alarm.reason})`
        : "";
  return `alarm ${alarm.name} is in ALARM${measured}`;
}

/** Why the canary must roll back, naming every firing alarm; undefined when none fires. */
export function firingReason(states: readonly AlarmState[]): string | undefined {
  const firing = firingAlarms(states);
  const [first] = firing;
  if (!first) return undefined;
  // The composite only repeats what the metric alarms under it say.
  const named = first.value === undefined ? firing : firing.filter((s) => s.value !== undefined);
  return named.map(describeFiringAlarm).join("; ");
}

/**
 * `alarms: latency-p95 OK (812 / 2000), error-rate INSUFFICIENT_DATA (– / 2)` — names shortened by the
 * prefix they share; an alarm the record names that no longer exists is called missing.
 */
export function alarmStatusLine(names: readonly string[], states: readonly AlarmState[]): string {
  if (names.length === 0) return "no alarms armed";
  const prefix = sharedPrefix(names);
  const byName = new Map(states.map((s) => [s.name, s]));
  const parts = names.map((name) => {
    const short = name.slice(prefix.length) || name;
    const state = byName.get(name);
    if (!state) return `${short} missing`;
    const numbers =
      state.threshold === undefined
        ? ""
        : ` (${state.value === undefined ? "–" : formatNumber(state.value)} / ${formatNumber(state.threshold)})`;
    return `${short} ${state.state}${numbers}`;
  });
  return `alarms: ${parts.join(", ")}`;
}

/** The longest prefix ending in `-` that every name shares (`modelship-llama-v2-`). */
function sharedPrefix(names: readonly string[]): string {
  const [first = ""] = names;
  let end = first.length;
  for (const name of names) {
    let i = 0;
    while (i < end && i < name.length && name[i] === first[i]) i++;
    end = i;
  }
  const cut = first.lastIndexOf("-", end - 1);
  return names.length > 1 && cut >= 0 ? first.slice(0, cut + 1) : "";
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
}
