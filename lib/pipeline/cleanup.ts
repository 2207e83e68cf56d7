// The Cleanup stage, for failures before the canary: removes the candidate workload (and, past
// RegisterGateway, its route entry, rejecting its registry entry), records the failure and releases the
// model's lock in one write, writes the rollout's report with how it ended (which stage failed, with what),
// then emits "Stage Failed" — each step attempted whatever happened to the one before, because a lock left
// behind blocks the model and a GPU pod left behind is a bill. Idempotent: a re-run records and emits
// nothing twice. A rollout a Rollback stopped (an abort during the gates) keeps the end that Rollback wrote.
//
// A failure at or after RegisterGateway (whatever its error: a Transient that ran out of retries too) may have
// left the candidate on the model's route: once every gate before it has passed, Cleanup takes the candidate
// off, which is a no-op for a route that never got it.
//
// A RolloutInProgress failure means the lock and the model's record belong to another rollout: Cleanup then
// records nothing and releases nothing. A lock is released only by the rollout holding it.

import { describeCaughtError, RolledBack } from "../core/errors";
import type { ExecutionState } from "../core/rollout/rollout";
import type { CandidateHandle } from "../ports";
import { ANNOUNCE_USES, announcePending } from "./announce";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { rolloutEvent } from "./events";
import { ROLLOUT_END_USES, type RolloutEndReport, writeRolloutEnd } from "./rollout-outcome";

/**
 * Removes the candidate's workload (and what a half-done deploy left), takes it off the model's route (a
 * failure at RegisterGateway may have put it there), rejects its registry entry, records and releases.
 */
export const CLEANUP_USES = combinedUse(
  ANNOUNCE_USES,
  ROLLOUT_END_USES,
  portUse({
    store: ["get", "record", "releaseLock"],
    serving: ["remove", "removeRollout"],
    gateway: ["removeBackend"],
    registry: ["getStatus", "setStatus"],
    events: ["emit"],
    clock: ["now"],
  }),
);

type CleanupDeps = DepsUsing<typeof CLEANUP_USES>;

/** `$.outcome` after a failure. */
export interface CleanupOutcome {
  /** The error name that failed the rollout (`ModelInvalid`, `CandidateFailed`, …). */
  readonly error: string;
  readonly reason: string;
  readonly hint?: string;
  /** What was undone, in sentences. */
  readonly cleaned: readonly string[];
  /** What could not be undone and needs a person (a workload still running costs money). */
  readonly leftBehind: readonly string[];
  /** The rollout's report.html, written with how it ended. */
  readonly reportKey?: string;
  /** Why the report could not be written (the cleanup itself completed). */
  readonly reportProblem?: string;
}

const STAGE = "Cleanup";

export async function cleanup(state: ExecutionState, deps: CleanupDeps): Promise<CleanupOutcome> {
  const { rollout } = state;
  const failure = describeCaughtError(state.error);
  const cleaned: string[] = [];
  const leftBehind: string[] = [];

  const registered = reachedRegisterGateway(state) || failure.error === "GatewayFailed";
  if (registered) {
    try {
      await deps.gateway.removeBackend(rollout.model, rollout.version);
      cleaned.push(`Took ${rollout.model} ${rollout.version} off the model's route.`);
    } catch (error) {
      const message = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
      leftBehind.push(
        `${rollout.model} ${rollout.version} could not be taken off the model's route (${message}); remove its backend by hand.`,
      );
    }
  }

  if (registered) {
    try {
      // RegisterGateway may have failed before the entry existed: only an entry that is there is rejected.
      const status = await deps.registry.getStatus(rollout.model, rollout.version);
      if (status === "PendingManualApproval") {
        await deps.registry.setStatus(
          rollout.model,
          rollout.version,
          "Rejected",
          `${failure.error}: ${failure.reason}`,
        );
        cleaned.push(`Rejected ${rollout.model} ${rollout.version} in the model registry.`);
      }
    } catch (error) {
      const message = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
      leftBehind.push(
        `${rollout.model} ${rollout.version} could not be marked Rejected in the model registry (${message}); it still says PendingManualApproval.`,
      );
    }
  }

  const handle = candidateHandle(state.candidate);
  if (state.candidate?.["handle"] !== undefined && !handle) {
    leftBehind.push(
      `The state's candidate entry has no usable handle, so no workload was removed; check for one left over from rollout ${rollout.id}.`,
    );
  }
  if (handle) {
    try {
      await deps.serving.remove(handle);
      cleaned.push(`Removed the candidate workload ${handle.id}.`);
    } catch (error) {
      const name = error instanceof Error ? error.name : "Error";
      const message = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
      leftBehind.push(
        `The candidate workload ${handle.id} could not be removed (${name}: ${message}); delete it by hand.`,
      );
    }
  }

  // Past Validate, DeployCandidate may have created a workload without returning a handle (a failure
  // half-way, a timeout): sweep whatever carries this rollout's label.
  if (state.validation !== undefined) {
    try {
      cleaned.push(...(await deps.serving.removeRollout(rollout.model, rollout.id)));
    } catch (error) {
      const message = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
      leftBehind.push(
        `Could not look for other workloads of rollout ${rollout.id} (${message}); check for any left by hand.`,
      );
    }
  }

  const ownsRollout = failure.error !== "RolloutInProgress";
  const record = ownsRollout ? await deps.store.get(rollout.model) : undefined;
  const alreadyRecorded =
    record?.history.some((t) => t.rolloutId === rollout.id && t.stage === STAGE) ?? false;
  const holdsLock = record?.lock?.rolloutId === rollout.id;
  const reason = [`${failure.error}: ${failure.reason}`, ...leftBehind].join(" ");
  const at = deps.clock.now().toISOString();
  const failed = rolloutEvent(
    "Stage Failed",
    rollout,
    STAGE,
    `Rollout of ${rollout.model} ${rollout.version} failed: ${failure.reason}`,
    deps.clock,
    {
      error: failure.error,
      reason: failure.reason,
      ...(failure.hint === undefined ? {} : { hint: failure.hint }),
      data: { cleaned, leftBehind },
    },
  );

  if (!ownsRollout) {
    // The record and the lock are another rollout's: announce the failure, write nothing.
    await deps.events.emit(failed);
  } else if (!alreadyRecorded) {
    const transition = {
      at,
      rolloutId: rollout.id,
      version: rollout.version,
      stage: STAGE,
      status: "failed" as const,
      reason,
    };
    // Only the lock holder changes what the record says about the model, and it frees the lock in the same
    // write; a rollout that never got the lock (an invalid manifest while another runs), or lost it to a
    // rollback meanwhile, adds its failure to the history and nothing else.
    let released = false;
    if (holdsLock) {
      try {
        await deps.store.record(
          rollout.model,
          transition,
          { status: "failed", candidateVersion: null },
          { releaseLock: true, announce: [failed] },
        );
        released = true;
      } catch (error) {
        if (!(error instanceof RolledBack)) throw error;
      }
    }
    if (!released) await deps.store.record(rollout.model, transition, {}, { announce: [failed] });
    cleaned.push(`Recorded the failure in ${rollout.model}'s history.`);
    if (released) cleaned.push(`Released the lock on ${rollout.model}.`);
  }
  const report: RolloutEndReport = await writeRolloutEnd(
    rollout,
    {
      end: {
        state: failure.error === "Aborted" ? "Aborted" : "Failed",
        stage: STAGE,
        at,
        reason: failure.reason,
        error: failure.error,
        failedStage: failedStage(state),
        ...(failure.hint === undefined ? {} : { hint: failure.hint }),
        ...(leftBehind.length > 0 && { leftBehind }),
      },
      ...(state.plan && { plan: state.plan }),
      ...(state.plan?.stableVersion !== undefined && { stableVersion: state.plan.stableVersion }),
    },
    deps,
  );
  // After the lock is free: an automation that starts the next version on this event finds the model free.
  if (ownsRollout) await announcePending(deps, rollout.model, rollout.id);

  return {
    error: failure.error,
    reason: failure.reason,
    ...(failure.hint === undefined ? {} : { hint: failure.hint }),
    cleaned,
    leftBehind,
    ...report,
  };
}

/**
 * The state whose failure the Catch brought here, from how far the execution state got: each stage writes
 * its own key, and a gate's Map writes its key without the merge's `reportKey`.
 */
function failedStage(state: ExecutionState): string {
  if (!state.manifest || !state.plan) return "Prepare";
  if (!state.validation) return "Validate";
  // CheckCapacity's look writes $.capacity; one that found enough was followed by DeployCandidate.
  if (!state.candidate) return state.capacity?.["enough"] === true ? "DeployCandidate" : "CheckCapacity";
  const readiness = state.candidate["readiness"] as { phase?: unknown } | undefined;
  if (readiness?.phase !== "ready") return "CheckCandidate";
  const { gates } = state.plan;
  if (gates.smoke && state.smoke === undefined) return "SmokeTest";
  if (gates.stress && !merged(state.stress)) return state.stress === undefined ? "StressTest" : "MergeStress";
  if (gates.eval && !merged(state.eval)) return state.eval === undefined ? "Eval" : "MergeEval";
  return "RegisterGateway";
}

/** The handle DeployCandidate left in `$.candidate.handle`, if it has one worth passing to Serving. */
function candidateHandle(candidate: ExecutionState["candidate"]): CandidateHandle | undefined {
  const handle: unknown = candidate?.["handle"];
  if (typeof handle !== "object" || handle === null) return undefined;
  const { id, model, version } = handle as Partial<Record<keyof CandidateHandle, unknown>>;
  const valid = typeof id === "string" && typeof model === "string" && typeof version === "string";
  return valid ? (handle as CandidateHandle) : undefined;
}

/** Whether the execution got as far as RegisterGateway: a candidate exists and every enabled gate passed. */
function reachedRegisterGateway(state: ExecutionState): boolean {
  if (state.gateway !== undefined) return true;
  const gates = state.plan?.gates;
  if (!gates || state.candidate === undefined) return false;
  return (
    (!gates.smoke || state.smoke !== undefined) &&
    (!gates.stress || merged(state.stress)) &&
    (!gates.eval || merged(state.eval))
  );
}

/** A gate passed once its merge returned (`reportKey`): its Map alone writes `$.stress` / `$.eval` too. */
function merged(result: Readonly<Record<string, unknown>> | undefined): boolean {
  return result?.["reportKey"] !== undefined;
}
