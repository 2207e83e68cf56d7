// Rollback: one idempotent function for its three callers — the state machine (CheckCanary saw an alarm or
// a rolled-back record, or a stage after the gates failed), an alarm going to ALARM (the EventBridge rule on
// CloudWatch's state change, or the local alarm loop; it acts within seconds, even while the execution
// waits in a Bake or the Watch) and a `Rollback Requested` / `Abort Requested` command.
//
// It first claims the rollout's end (a conditional write on the lock): from then on no other stage of the
// rollout acts — each one's next fenced change or conditional write finds the claim, undoes what it changed
// meanwhile and stops (lib/pipeline/rollout-fence.ts) — and a Finalize under way makes the claim fail. Then it
// returns all traffic to the version that served before — during the watch, the previous stable, still
// warm — takes the candidate off the route and removes its workload, deletes the alarms and stops the
// prober, rejects the version in the model registry; records `rolled_back` with the reason (the alarm with
// its value and threshold, or who asked) and releases the model's lock in one write; writes the rollout's
// report — its steps, its alarms' metrics (read before the alarms are removed) and who rolled it back — and
// only then announces "Model Rolled Back", so an automation that starts the next version on that event finds
// the model free and the report written. A report that cannot be written is returned as `reportProblem`; the
// rollback completes all the same.
//
// - Twice (the alarm rule, then the state machine; or both at once): both may undo (each step is idempotent),
//   but only the first write that releases the lock records and announces; the other finds it done and
//   returns the same outcome, whose reason is the execution's `RolledBack` cause.
// - A first release has nothing to return to: its route entry is removed with the candidate (the gateway
//   drops a route left without backends) and the model is not served until a new version is released.
// - During the gates (an abort before the candidate took traffic) the route is not touched: the candidate's
//   workloads are removed, and the execution, finding its candidate gone, ends through Cleanup.
// - No rollout running for the model, or one other than the caller's: nothing is touched, and the outcome
//   says so. Every step compares rollout ids: a later rollout of the same model is never rolled back by a
//   stale request.

import type { AlarmStateValue } from "../core/alarms/alarm-spec";
import { describeCaughtError, RolledBack } from "../core/errors";
import { MODEL_NAME_PATTERN } from "../core/manifest/manifest-schema";
import type { RolloutEnd } from "../core/report/rollout-outcome";
import type {
  ExecutionState,
  LockHolder,
  ModelRecord,
  RolloutIdentity,
  Transition,
} from "../core/rollout/rollout";
import type { CandidateHandle } from "../ports";
import { describeFiringAlarm, firingReason } from "./alarm-report";
import { ANNOUNCE_USES, announcePending } from "./announce";
import { candidateProgress } from "./candidate-state";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { type DataOf, rolloutEvent } from "./events";
import type { RolloutOutcome } from "./flow-state";
import {
  ALARM_METRICS_USES,
  readAlarmMetrics,
  ROLLOUT_END_USES,
  type RolloutEndReport,
  writeRolloutEnd,
} from "./rollout-outcome";
import { holdsLock, recordedTransition, ROLLBACK_STAGE } from "./rollout-record";
import { describeRestore, restoredFleet, restoreStable, STABLE_RESTORE_USES } from "./stable-restore";

/** Who asks for the rollback, and with what they know. */
export type RollbackRequest =
  | { readonly by: "state machine"; readonly state: ExecutionState }
  | {
      readonly by: "alarm";
      readonly alarmName: string;
      /** The pipeline's alarm name prefix (`canaryMetrics.alarmPrefix`): the model's name follows it. */
      readonly alarmPrefix: string;
      readonly stateValue: AlarmStateValue;
      /** CloudWatch's reason for the state change, used when the alarm's values cannot be read. */
      readonly reason: string;
    }
  | {
      readonly by: "command";
      readonly command: "Rollback Requested" | "Abort Requested";
      readonly model: string;
      readonly reason?: string;
      readonly requestedBy?: string;
    };

export interface RollbackOutcome extends RolloutOutcome {
  /** `rolled back`: this call did it; `already rolled back`: an earlier call had; else nothing was touched. */
  readonly result: "rolled back" | "already rolled back" | "nothing to roll back";
  readonly model?: string;
  readonly version?: string;
  readonly rolloutId?: string;
  /** The rollout's report.html, written again with how it ended. */
  readonly reportKey?: string;
  /** Why the report could not be written (the rollback itself completed). */
  readonly reportProblem?: string;
}

/** Everything a rollback undoes: traffic back to stable, the candidate's workload, alarms, prober and registry status. */
export const ROLLBACK_USES = combinedUse(
  ANNOUNCE_USES,
  ROLLOUT_END_USES,
  ALARM_METRICS_USES,
  STABLE_RESTORE_USES,
  portUse({
    store: ["get", "record", "releaseLock", "claimEnd"],
    gateway: ["mirror", "promote", "removeBackend"],
    serving: ["remove", "removeRollout", "scale"],
    alarms: ["states", "remove"],
    metrics: ["stopProber"],
    registry: ["getStatus", "setStatus"],
    events: ["emit"],
    clock: ["now"],
  }),
);

export type RollbackDeps = DepsUsing<typeof ROLLBACK_USES>;

const STAGE = ROLLBACK_STAGE;

/** The rollout a request is about, and why it is to be rolled back. */
interface Target {
  readonly model: string;
  readonly rolloutId: string;
  readonly version: string;
  readonly executionId?: string;
  readonly record: ModelRecord | undefined;
  /** A clause: `alarm … is in ALARM: 2412 against a threshold of 2000`, `a rollback was requested by …`. */
  readonly why: string;
  /** The candidate's handle from the execution state, when the state machine asks. */
  readonly handle?: CandidateHandle;
  /** What the "Model Rolled Back" event says asked for it. */
  readonly data: Pick<DataOf<"Model Rolled Back">, "trigger" | "alarm" | "command" | "requestedBy">;
  /** Who or what asked, as the report tells it. */
  readonly asker: Pick<RolloutEnd, "state" | "trigger" | "requestedBy" | "alarm" | "error">;
  /** The execution state, when the state machine asks. */
  readonly state?: ExecutionState;
}

export async function rollback(request: RollbackRequest, deps: RollbackDeps): Promise<RollbackOutcome> {
  const target = await findTarget(request, deps);
  if (typeof target === "string") return { result: "nothing to roll back", reason: target };
  const { model, rolloutId, version, record } = target;
  const ids = { model, version, rolloutId };

  const earlier = recordedTransition(record, rolloutId, STAGE);
  if (earlier) return alreadyRolledBack(earlier, target, deps);
  if (!record || !holdsLock(record, rolloutId)) {
    const removed = await removeOwnWorkload(target, deps);
    const holder = record?.lock;
    return {
      result: "nothing to roll back",
      reason: `Rollout ${rolloutId} of ${model} ${version} is no longer running (${holder ? `rollout ${holder.rolloutId} of ${holder.version} holds the model now` : "no rollout holds the model"}), so its route was not touched; it was to be rolled back because ${target.why}.${removed}`,
      ...ids,
    };
  }
  const claim = await deps.store.claimEnd(model, rolloutId, {
    stage: STAGE,
    at: deps.clock.now().toISOString(),
  });
  // Read again after the claim: a stage may have recorded more (a weight, a promotion) since the first read.
  const claimed = await deps.store.get(model);
  if (!claim.claimed || !claimed) return notClaimed(target, claimed, deps);
  return rollBack(target, claimed, deps);
}

/**
 * The outcome of a rollback an earlier call recorded; writes the report again (the earlier call's account of
 * the end stays, this call may know the rollout better: the state machine knows its manifest's key) and
 * announces what that call left unannounced.
 */
async function alreadyRolledBack(
  earlier: Transition,
  target: Target,
  deps: RollbackDeps,
): Promise<RollbackOutcome> {
  const { model, rolloutId, version } = target;
  const report = await writeRolloutEnd(
    reportRollout(target),
    {
      end: { state: target.asker.state, stage: STAGE, at: earlier.at, reason: earlier.reason },
      ...(target.state?.plan && { plan: target.state.plan }),
    },
    deps,
  );
  await announcePending(deps, model, rolloutId);
  return { result: "already rolled back", reason: earlier.reason, model, version, rolloutId, ...report };
}

/** The rollout the report is about: the execution's own identity, or what the model's lock says of it. */
function reportRollout(target: Target) {
  if (target.state) return target.state.rollout;
  const lock = target.record?.lock;
  return {
    id: target.rolloutId,
    model: target.model,
    version: target.version,
    ...(target.executionId === undefined ? {} : { executionId: target.executionId }),
    ...(lock?.rolloutId === target.rolloutId && { startedAt: lock.since }),
  } satisfies Omit<RolloutIdentity, "source">;
}

/** The end could not be claimed: rolled back by another call meanwhile, or being finalized, or over. */
async function notClaimed(
  target: Target,
  record: ModelRecord | undefined,
  deps: RollbackDeps,
): Promise<RollbackOutcome> {
  const { model, rolloutId, version } = target;
  const ids = { model, version, rolloutId };
  const earlier = recordedTransition(record, rolloutId, STAGE);
  if (earlier) return alreadyRolledBack(earlier, target, deps);
  const lock = record?.lock;
  const why =
    lock?.rolloutId === rolloutId && lock.ending
      ? `${lock.ending.stage} has been ending it since ${lock.ending.at}: its watch passed, so it is finished rather than rolled back`
      : lock
        ? `rollout ${lock.rolloutId} of ${lock.version} holds the model now`
        : "no rollout holds the model";
  return {
    result: "nothing to roll back",
    reason: `Rollout ${rolloutId} of ${model} ${version} could not be rolled back (${why}); it was to be rolled back because ${target.why}.`,
    ...ids,
  };
}

/** The Rollback Task: the state machine's request, with the execution state. */
export function stateMachineRollback(state: ExecutionState, deps: RollbackDeps): Promise<RollbackOutcome> {
  return rollback({ by: "state machine", state }, deps);
}

async function rollBack(target: Target, record: ModelRecord, deps: RollbackDeps): Promise<RollbackOutcome> {
  const { model, rolloutId, version } = target;
  // During the watch the rolled-back version is the stable one, and the previous stable is still warm.
  const watching = record.stable?.rolloutId === rolloutId;
  const onRoute = watching || record.candidate?.rolloutId === rolloutId;
  const rolledBack = watching ? record.stable : onRoute ? record.candidate : undefined;
  const restore = watching ? record.previousStable : onRoute ? record.stable : undefined;

  // A shadow under way: the candidate answered only copies of the stable's requests, never a user.
  const shadowing = record.shadow?.rolloutId === rolloutId && !record.canary && !watching;
  // The mirror first, so no more copies go out while the route changes (promoting the stable ends it too).
  if (onRoute && record.shadow?.rolloutId === rolloutId) await deps.gateway.mirror(model, undefined);
  // In `constrained` the stable gave up replicas as the candidate grew: they come back one at a time, each
  // taking back its share once ready, before the last of the traffic returns (lib/pipeline/stable-restore.ts).
  const restoredReplicas =
    onRoute && restore && rolledBack
      ? await restoreStable(record, { model, restore, rolledBack }, deps)
      : undefined;
  if (onRoute) {
    // Promoting the version to return to works from either side: during the canary it is the stable, which
    // takes 100% again; during the watch it is the previous stable the route kept, which becomes the stable.
    if (restore) await deps.gateway.promote(model, restore.version);
    await deps.gateway.removeBackend(model, version);
  }
  const handle = rolledBack?.handle ?? target.handle;
  if (handle) await deps.serving.remove(handle);
  const fleet = restore && restoredFleet(record, restore);
  if (restore && fleet !== undefined) {
    // A restore cut short by its bound left the stable below its size: the rest start now that the candidate's
    // replicas are gone, so even then the rollout never held more than the fleet + 1. Then its autoscaler,
    // pinned while it was scaled down, gets its range back (a no-op without one).
    if ((await deps.serving.replicas(restore.handle)).desired < fleet)
      await deps.serving.scale(restore.handle, fleet);
    await deps.serving.scale(restore.handle, "autoscaled");
  }
  const swept = await deps.serving.removeRollout(model, rolloutId);
  // For the report, while the alarms exist: traffic is already back on the version restored.
  const alarmMetrics = await readAlarmMetrics(record, rolloutId, deps);
  if (record.alarmNames?.length) await deps.alarms.remove(record.alarmNames);
  // Whether or not its start was recorded: a stage may have started it just before the claim.
  await deps.metrics.stopProber(model, version);

  const restored = !onRoute
    ? `${version} had taken no traffic${record.stable ? `; ${record.stable.version} still serves 100%` : ""}`
    : restore
      ? `${restore.version}${watching ? " (the previous stable, kept warm)" : ""} serves 100% again${restoredReplicas ? describeRestore(restore.version, restoredReplicas) : ""}`
      : `${model} had no earlier version to return to, so its route was removed: it is not served until a new version is released`;
  const unseen =
    shadowing && record.shadow
      ? ` No user saw ${version}: during its shadow it answered only copies of ${record.shadow.percent}% of ${restore?.version ?? "the stable"}'s requests, and those answers were thrown away.`
      : "";
  const reason = `Rolled back ${model} ${version} because ${target.why}; ${restored}.${unseen}`;
  // Only an entry that exists: a rollout stopped just as RegisterGateway began has none yet.
  if (onRoute && (await deps.registry.getStatus(model, version)) !== undefined)
    await deps.registry.setStatus(model, version, "Rejected", reason);

  const weights = restore ? { stable: 100, candidate: 0 } : undefined;
  const subject = {
    id: rolloutId,
    model,
    version,
    ...(target.executionId === undefined ? {} : { executionId: target.executionId }),
  };
  const event = rolloutEvent("Model Rolled Back", subject, STAGE, reason, deps.clock, {
    reason: target.why,
    data: {
      ...target.data,
      restoredVersion: restore?.version ?? null,
      weights: weights ?? null,
      removed: [...(handle ? [`Removed the workload ${handle.id}.`] : []), ...swept],
      ...(shadowing && { duringShadow: true }),
      ...(restoredReplicas && { restoredReplicas }),
    },
  });
  const at = deps.clock.now().toISOString();
  try {
    // The record, the lock's release and the event to announce are one write; the event goes out after it.
    await deps.store.record(
      model,
      {
        at,
        rolloutId,
        version,
        stage: STAGE,
        status: "rolled_back",
        reason,
        ...(weights ? { weights } : {}),
      },
      {
        status: "rolled_back",
        candidateVersion: null,
        candidate: null,
        canary: null,
        alarmNames: null,
        promoteRequested: null,
        shadow: null,
        capacity: null,
        ...(watching
          ? {
              stable: restore ?? null,
              stableVersion: restore?.version ?? null,
              previousStable: null,
              weights: weights ?? null,
            }
          : onRoute
            ? { weights: weights ?? null }
            : {}),
      },
      { releaseLock: true, announce: [event] },
    );
  } catch (error) {
    // Another call of this rollback recorded it first: the lock is gone, and so is the work.
    if (!(error instanceof RolledBack)) throw error;
    return notClaimed(target, await deps.store.get(model), deps);
  }
  const report: RolloutEndReport = await writeRolloutEnd(
    reportRollout(target),
    {
      end: { ...target.asker, stage: STAGE, at, reason },
      ...(alarmMetrics && { alarms: alarmMetrics }),
      ...(target.state?.plan && { plan: target.state.plan }),
      ...(record.canary && { stepCount: record.canary.steps }),
      ...((restore ?? record.stable) && { stableVersion: (restore ?? record.stable)?.version }),
    },
    deps,
  );
  await announcePending(deps, model, rolloutId);
  return { result: "rolled back", reason, model, version, rolloutId, ...report };
}

/** A stale state-machine rollback still removes its own workload, unless that workload serves the model. */
async function removeOwnWorkload(target: Target, deps: RollbackDeps): Promise<string> {
  const { handle, record } = target;
  const serving = [record?.stable, record?.previousStable, record?.candidate].some(
    (v) => v?.rolloutId === target.rolloutId,
  );
  if (!handle || serving) return "";
  await deps.serving.remove(handle);
  return ` Its candidate workload ${handle.id} was removed.`;
}

async function findTarget(request: RollbackRequest, deps: RollbackDeps): Promise<Target | string> {
  switch (request.by) {
    case "state machine": {
      const { rollout } = request.state;
      return {
        model: rollout.model,
        rolloutId: rollout.id,
        version: rollout.version,
        ...(rollout.executionId === undefined ? {} : { executionId: rollout.executionId }),
        record: await deps.store.get(rollout.model),
        why: stateMachineReason(request.state),
        ...handleIn(request.state),
        data: { trigger: "state machine" },
        asker: {
          state: "RolledBack",
          trigger: "state machine",
          ...(request.state.error && { error: request.state.error.Error }),
        },
        state: request.state,
      };
    }
    case "alarm": {
      const { alarmName, stateValue } = request;
      if (stateValue !== "ALARM")
        return `Alarm ${alarmName} is ${stateValue}, not ALARM: nothing to roll back.`;
      const record = await recordArmedWith(alarmName, request.alarmPrefix, deps);
      if (!record?.lock) {
        return `No running rollout watches alarm ${alarmName} (an earlier version's alarm, or a rollout already rolled back or finished): nothing to roll back.`;
      }
      const states = await deps.alarms.states(record.alarmNames ?? []);
      const fired = states.find((s) => s.name === alarmName);
      const why =
        firingReason(states) ??
        describeFiringAlarm({ ...fired, name: alarmName, state: "ALARM", reason: request.reason });
      return {
        ...lockHolderOf(record, record.lock),
        record,
        why,
        data: { trigger: "alarm", alarm: alarmName },
        asker: { state: "RolledBack", trigger: "alarm", alarm: alarmName },
      };
    }
    case "command": {
      const record = await deps.store.get(request.model);
      const noun = request.command === "Abort Requested" ? "an abort" : "a rollback";
      if (!record?.lock) {
        const serving = record?.stable ? ` ${record.stable.version} serves it.` : "";
        return `No rollout of ${request.model} is running: ${noun} has nothing to do.${serving}`;
      }
      const who = request.requestedBy ?? "an operator";
      return {
        ...lockHolderOf(record, record.lock),
        record,
        why: `${noun} was requested by ${who}${request.reason ? ` (${request.reason})` : ""}`,
        data: { trigger: "command", command: request.command, requestedBy: who },
        asker: {
          state: request.command === "Abort Requested" ? "Aborted" : "RolledBack",
          trigger: "command",
          requestedBy: who,
        },
      };
    }
  }
}

function lockHolderOf(record: ModelRecord, lock: LockHolder) {
  return {
    model: record.model,
    rolloutId: lock.rolloutId,
    version: lock.version,
    ...(lock.executionId === undefined ? {} : { executionId: lock.executionId }),
  };
}

/**
 * The record of the model whose running rollout armed this alarm. Alarm names are
 * `<prefix><model>-<version>-<what>` and both model and version may contain `-`, so each possible model
 * name is tried; only a record listing the alarm among its rollout's alarms counts.
 */
async function recordArmedWith(
  alarmName: string,
  prefix: string,
  deps: RollbackDeps,
): Promise<ModelRecord | undefined> {
  if (!alarmName.startsWith(prefix)) return undefined;
  const rest = alarmName.slice(prefix.length);
  for (let dash = rest.indexOf("-"); dash > 0; dash = rest.indexOf("-", dash + 1)) {
    const model = rest.slice(0, dash);
    if (!MODEL_NAME_PATTERN.test(model)) continue;
    const record = await deps.store.get(model);
    if (record?.alarmNames?.includes(alarmName)) return record;
  }
  return undefined;
}

/** Why the state machine rolls back: a stage's failure its Catch put in `$.error`, or a check's verdict. */
function stateMachineReason(state: ExecutionState): string {
  if (state.error) {
    const failure = describeCaughtError(state.error);
    return `the state machine caught ${failure.error}: ${failure.reason}`;
  }
  const verdicts = [state.outcome?.["watch"], state.canary?.["check"]];
  for (const verdict of verdicts) {
    const { rollback: rollBackNow, reason } = (verdict ?? {}) as { rollback?: unknown; reason?: unknown };
    if (rollBackNow === true && typeof reason === "string") return reason;
  }
  return "the state machine asked for it";
}

function handleIn(state: ExecutionState): { handle?: CandidateHandle } {
  try {
    return { handle: candidateProgress(state, STAGE).handle };
  } catch {
    return {};
  }
}
