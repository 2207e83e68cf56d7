// What `modelship status` prints for a model: what serves it now — stable and candidate with their weights,
// the canary's step and, for a sticky rollout, the conversation key it keeps on one version, a shadow under
// way (how much of the stable's traffic is copied to the candidate, for how long, how far in), the previous
// stable kept warm during a watch — each alarm's state with what it watches
// (real traffic, the prober's chats, or auto: traffic when a period has enough requests, else the probes),
// its evaluation as CloudWatch explains it (how many of the last N periods breach, the M it takes, the periods
// without data and how they count) and its latest value next to its threshold, each hook the rollout ran
// (gates.hooks: result, reason, time, calls), and the last transition.

import type { AlarmEvaluation, AlarmState, TreatMissingData } from "../core/alarms/alarm-spec";
import { alarmWatches } from "../core/alarms/canary-alarms";
import { describeShadowProgress } from "../core/traffic/shadow";
import { describeHookRun } from "../core/gates/hooks";
import { describeStickiness } from "../core/traffic/sticky-routing";
import type { ModelRecord, ServingVersion, Transition } from "../core/rollout/rollout";
import { CAPACITY_WAIT_STARTED, CHECK_CAPACITY_STAGE } from "../pipeline/capacity-wait";
import { terminalText } from "../core/text/terminal-text";
import { describeFault, type Fault } from "../local/gateway/fault-injection";
import type { ReplicaStatus } from "../local/local-serving";
import type { RouteState } from "../ports";

export interface ModelStatus {
  readonly record: ModelRecord;
  /** The states of the alarms the record names; an alarm CloudWatch no longer has is absent. */
  readonly alarms: readonly AlarmState[];
  /** When status is asked: how far in a shadow is. Default: now. */
  readonly now?: Date;
}

/** `commandFlags`: what the shown commands need to reach this runtime (` --local` for a local home). */
export function formatModelStatus(
  { record, alarms, now = new Date() }: ModelStatus,
  commandFlags = "",
): string {
  const lines = [`${record.model}  ${headline(record)}`];
  const rows: [string, string][] = [];
  const weights =
    record.weights ?? (record.stable && !record.candidate ? { stable: 100, candidate: 0 } : undefined);
  if (record.stable) rows.push(["stable", servingRow(record.stable, weights?.stable)]);
  else if (record.stableVersion) rows.push(["stable", `${record.stableVersion} (no workload recorded)`]);
  if (record.candidate) rows.push(["candidate", servingRow(record.candidate, weights?.candidate)]);
  else if (record.candidateVersion) rows.push(["candidate", `${record.candidateVersion} (no workload yet)`]);
  const stickiness = canaryRunning(record) ? record.canary?.stickiness : undefined;
  if (stickiness) {
    rows.push([
      "sticky",
      `${describeStickiness(stickiness)}: a request with it stays on the version its value hashes to; without it, by weight`,
    ]);
  }
  const shadow = record.lock?.rolloutId === record.shadow?.rolloutId ? record.shadow : undefined;
  if (shadow) {
    rows.push([
      "shadow",
      `${describeShadowProgress(shadow, now)}: every user is answered by stable, the copies' answers are thrown away`,
    ]);
  }
  if (record.previousStable) {
    rows.push(["previous", `${servingRow(record.previousStable, undefined)}, kept warm for a rollback`]);
  }
  if (record.lock) {
    rows.push([
      "rollout",
      `${record.lock.rolloutId} (${record.lock.version}) holds the model since ${record.lock.since}${record.lock.ending ? `; ${record.lock.ending.stage} is ending it since ${record.lock.ending.at}` : ""}`,
    ]);
  }
  const approval =
    record.lock && record.approval?.rolloutId === record.lock.rolloutId ? record.approval : undefined;
  if (approval) {
    rows.push([
      "approval",
      `${approval.version} waits ${approval.at === "beforeTraffic" ? "before any traffic" : "before its promotion"} since ${approval.since}, until ${approval.expiresAt}: modelship approve|reject ${record.model}${commandFlags}`,
    ]);
  }
  const capacityWait = waitingForCapacity(record);
  if (capacityWait) rows.push(["capacity", terminalText(capacityWait.reason)]);
  rows.push(...hookRows(record));
  const last = record.history.at(-1);
  // While it waits for capacity, the last transition is the capacity row already.
  if (last && last !== capacityWait)
    rows.push(["last", `${last.stage} at ${last.at}: ${terminalText(last.reason)}`]);
  const width = Math.max(...rows.map(([label]) => label.length));
  lines.push(...rows.map(([label, text]) => `  ${label.padEnd(width)}  ${text}`));
  if (record.alarmNames?.length) {
    lines.push(
      "  alarms (watches: how many of the evaluated periods breach; latest value / threshold)",
      ...alarmRows(record.alarmNames, alarms),
    );
    if (record.alarmNames.some((name) => alarmWatches(name) === "auto")) {
      lines.push(
        "    auto: real traffic in a period with at least rollout.alarms.minRequests requests, else the prober's chats",
      );
    }
  }
  return lines.join("\n");
}

/**
 * The local gateway's view of a model: each backend with its weight, the share it mirrors during a shadow (the
 * gateway's own state, beside the record's shadow row), and the faults injected per variant.
 */
export function formatRoute(
  route: RouteState | null,
  faults: { readonly stable?: Fault; readonly candidate?: Fault },
): string[] {
  const backends = route?.backends.map((b) => `${b.variant} ${b.version} ${b.weight}%`) ?? [];
  const mirror = route?.mirror
    ? `; mirroring ${route.mirror.percent}% of stable's requests to ${route.mirror.version}`
    : "";
  const lines = [`  gateway   ${backends.length > 0 ? backends.join(", ") : "no route"}${mirror}`];
  for (const variant of ["stable", "candidate"] as const) {
    const fault = faults[variant];
    if (fault) lines.push(`  fault     ${variant}: ${describeFault(fault)}`);
  }
  return lines;
}

/**
 * The local runtime's replicas of each version served: `v1 2/2 ready, autoscaled 1–2 on queueDepth (target 1)`
 * and, below it, why the count last changed.
 */
export function formatReplicas(
  replicas: readonly (ReplicaStatus & { readonly version: string })[],
): string[] {
  return replicas.flatMap(({ version, desired, ready, pending, autoscaler, lastScale, restarts }) => {
    const scaling = autoscaler
      ? autoscaler.range.minReplicas === autoscaler.range.maxReplicas &&
        (autoscaler.range.minReplicas !== autoscaler.minReplicas ||
          autoscaler.range.maxReplicas !== autoscaler.maxReplicas)
        ? `, autoscaler pinned at ${autoscaler.range.minReplicas} by the rollout (${autoscaler.minReplicas}–${autoscaler.maxReplicas} on ${autoscaler.metric}, target ${autoscaler.target})`
        : `, autoscaled ${autoscaler.range.minReplicas}–${autoscaler.range.maxReplicas} on ${autoscaler.metric} (target ${autoscaler.target}, cooldown ${autoscaler.cooldownSeconds}s)`
      : "";
    const waiting = pending ? `, ${pending.count} pending: ${terminalText(pending.reason)}` : "";
    return [
      `  replicas  ${version} ${ready}/${desired} ready${scaling}${waiting}`,
      ...(lastScale ? [`            last scale ${terminalText(lastScale.description)}`] : []),
      ...(restarts
        ? [
            `            restarts  ${restarts.crashes} crash${restarts.crashes === 1 ? "" : "es"} (last: ${restarts.lastExit}); ${restarts.replacementAt ? `replacement at ${restarts.replacementAt} (back-off ${restarts.backoffSeconds} s)` : "replaced"}`,
          ]
        : []),
    ];
  });
}

/** The most hook runs status lists; earlier ones are counted (the report lists them all). */
const MAX_HOOK_ROWS = 10;

/** One row per hook the current rollout ran (the running one, else the last), newest last. */
function hookRows(record: ModelRecord): [string, string][] {
  const rolloutId = record.lock?.rolloutId ?? record.history.at(-1)?.rolloutId;
  const runs = record.history.flatMap((t) =>
    t.rolloutId === rolloutId && t.hook ? [{ at: t.at, hook: t.hook }] : [],
  );
  const shown = runs.slice(-MAX_HOOK_ROWS);
  const earlier = runs.length - shown.length;
  return [
    ...(earlier > 0
      ? [
          ["hook", `… ${earlier} earlier run${earlier === 1 ? "" : "s"} (the report lists all)`] as [
            string,
            string,
          ],
        ]
      : []),
    ...shown.map(({ at, hook }): [string, string] => [
      "hook",
      `${terminalText(describeHookRun(hook))} (at ${at})`,
    ]),
  ];
}

/** `running: canary step 2 of 4 (v3 at 25%)`, `promoted: v3 serves 100%`, … */
function headline(record: ModelRecord): string {
  const { lock, canary, candidate, stable } = record;
  if (lock) {
    if (lock.ending?.stage === "Rollback") return `running: ${lock.version} being rolled back`;
    if (lock.ending) return `running: ${lock.version} being finalized (${lock.ending.stage})`;
    if (stable?.rolloutId === lock.rolloutId) {
      return `running: ${lock.version} promoted, in its watch${record.previousStable ? ` (${record.previousStable.version} kept warm)` : ""}`;
    }
    if (canary && candidate?.rolloutId === lock.rolloutId) {
      const promotion = record.promoteRequested ? "; promotion requested" : "";
      return `running: ${canary.strategy ?? "canary"} step ${canary.step} of ${canary.steps} (${lock.version} at ${canary.weight}%)${promotion}`;
    }
    if (waitingForCapacity(record))
      return `running: ${lock.version} waiting for capacity (nothing deployed yet)`;
    if (record.shadow?.rolloutId === lock.rolloutId) {
      return `running: ${lock.version} in its shadow (no user sees its answers yet)`;
    }
    return `running: ${lock.version} in its gates${record.history.at(-1) ? ` (last: ${record.history.at(-1)?.stage})` : ""}`;
  }
  const serving = stable
    ? `${stable.version} serves 100%`
    : record.stableVersion
      ? `${record.stableVersion} serves 100%`
      : "not served";
  switch (record.status) {
    case "rolled_back":
      return `rolled back: ${serving}`;
    case "failed":
      return `last rollout failed: ${serving}`;
    case undefined:
      return serving;
    default:
      return `${record.status}: ${serving}`;
  }
}

/**
 * The transition that started the running rollout's wait for capacity, while it is the rollout's last: the
 * wait's end (a deploy, a failure, a rollback) writes one after it.
 */
function waitingForCapacity(record: ModelRecord): Transition | undefined {
  const { lock } = record;
  const last = record.history.findLast((t) => t.rolloutId === lock?.rolloutId);
  if (!lock || lock.ending || last?.stage !== CHECK_CAPACITY_STAGE) return undefined;
  return last.reason.startsWith(CAPACITY_WAIT_STARTED) ? last : undefined;
}

/** True while the record's rollout shifts traffic between its candidate and the stable, step by step. */
function canaryRunning({ lock, canary, candidate, stable }: ModelRecord): boolean {
  return (
    !!lock &&
    !lock.ending &&
    stable?.rolloutId !== lock.rolloutId &&
    !!canary &&
    candidate?.rolloutId === lock.rolloutId
  );
}

function servingRow(version: ServingVersion, weight: number | undefined): string {
  const share = weight === undefined ? "" : `${weight}%  `;
  return `${version.version}  ${share}(rollout ${version.rolloutId}, workload ${version.handle.id})`;
}

/**
 * One line per alarm the record names: state, what it watches, its evaluation, `latest value / threshold`,
 * since when. A composite shows only its state: its rule over the others decides.
 */
function alarmRows(names: readonly string[], states: readonly AlarmState[]): string[] {
  const byName = new Map(states.map((s) => [s.name, s]));
  const nameWidth = Math.max(...names.map((n) => n.length));
  return names.map((name) => {
    const state = byName.get(name);
    if (!state) return `    ${name.padEnd(nameWidth)}  missing: CloudWatch has no such alarm`;
    const watches = alarmWatches(name);
    const latest = `latest ${state.value === undefined ? "–" : formatNumber(state.value)}`;
    const measured =
      state.threshold !== undefined
        ? `${watches && watches !== "composite" ? `${watches}: ` : ""}${state.evaluation ? `${evaluationText(state.evaluation)}; ` : ""}${latest} / ${formatNumber(state.threshold)}`
        : "composite";
    const since = state.since ? `  since ${state.since}` : "";
    return `    ${name.padEnd(nameWidth)}  ${state.state.padEnd(17)}  ${measured}${since}`;
  });
}

/** What CloudWatch does with a period without data, per TreatMissingData. */
const MISSING_DATA_COUNTS: Readonly<Record<TreatMissingData, string>> = {
  breaching: "treated as breaching",
  notBreaching: "treated as not breaching",
  missing: "not counted",
  ignore: "ignored",
};

/** `breaching 2 of the last 3 periods (alarms at 3), 1 had no data: treated as not breaching` */
function evaluationText(evaluation: AlarmEvaluation): string {
  const { breaching, evaluationPeriods, datapointsToAlarm, noData, treatMissingData } = evaluation;
  const periods = evaluationPeriods === 1 ? "the last period" : `the last ${evaluationPeriods} periods`;
  const gaps = noData > 0 ? `, ${noData} had no data: ${MISSING_DATA_COUNTS[treatMissingData]}` : "";
  return `breaching ${breaching} of ${periods} (alarms at ${datapointsToAlarm})${gaps}`;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
}
