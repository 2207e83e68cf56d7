// Reading a model's rollout record from the point of view of one rollout: whether it still owns the model,
// what it already recorded (the history is how every stage after the gates stays idempotent), and whether it
// was rolled back — by the alarm rule or a command, perhaps while the execution waited. A later rollout of the
// same model may hold the record by then: everything here compares rollout ids, never versions alone.

import { RolledBack } from "../core/errors";
import type { ModelRecord, Transition } from "../core/rollout/rollout";
import { mayWriteAs } from "../core/rollout/rollout-ownership";

/** The stage a `Promote Requested` command records its request under; CheckCanary quotes it. */
export const PROMOTE_REQUESTED_STAGE = "Promote Requested";
/** The stage that rolls a rollout back; its transition in the history means "rolled back". */
export const ROLLBACK_STAGE = "Rollback";

/** The newest transition `stage` recorded for this rollout. */
export function recordedTransition(
  record: ModelRecord | undefined,
  rolloutId: string,
  stage: string,
): Transition | undefined {
  return record?.history.findLast((t) => t.rolloutId === rolloutId && t.stage === stage);
}

/** True while this rollout holds the model's lock: from Prepare until Finalize, Rollback or Cleanup. */
export function holdsLock(record: ModelRecord | undefined, rolloutId: string): boolean {
  return record?.lock?.rolloutId === rolloutId;
}

/**
 * True while `stage` may still act for the rollout: it holds the lock, was not rolled back, and no other stage
 * has claimed its end (a Rollback under way stops every other stage; a Finalize under way stops a Rollback).
 */
export function ownsModel(record: ModelRecord | undefined, rolloutId: string, stage: string): boolean {
  return (
    mayWriteAs(record?.lock, rolloutId, stage) &&
    recordedTransition(record, rolloutId, ROLLBACK_STAGE) === undefined
  );
}

/**
 * Throws `RolledBack` unless `stage` may still act for the rollout: a stage after the gates must never move
 * traffic or remove workloads on the strength of a rollout that was rolled back or ended meanwhile.
 */
export function assertStillRunning(
  record: ModelRecord | undefined,
  rolloutId: string,
  stage: string,
): asserts record is ModelRecord {
  if (ownsModel(record, rolloutId, stage)) return;
  throw new RolledBack(lostOwnershipReason(record, rolloutId, stage));
}

/** Why `stage` may no longer act for the rollout, in a sentence. */
export function lostOwnershipReason(
  record: ModelRecord | undefined,
  rolloutId: string,
  stage: string,
): string {
  const rolledBack = recordedTransition(record, rolloutId, ROLLBACK_STAGE);
  if (rolledBack) return rolledBack.reason;
  const lock = record?.lock;
  const model = record?.model ?? "its model";
  if (lock?.rolloutId === rolloutId && lock.ending) {
    return `${stage} stopped: ${lock.ending.stage} has been ending rollout ${rolloutId} of ${model} since ${lock.ending.at}.`;
  }
  return `${stage} stopped: rollout ${rolloutId} no longer holds the lock of ${model}${lock ? ` (rollout ${lock.rolloutId} of ${lock.version} does)` : ""}, so it was ended by someone else.`;
}
