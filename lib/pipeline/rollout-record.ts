// Reading a model's rollout record from the point of view of one rollout: whether it still owns the model,
// what it already recorded (the history is how every stage after the gates stays idempotent: the record is
// written last, so a recorded transition means the stage's work is done), and whether it was rolled back —
// by the alarm rule or a command, perhaps while the execution waited. A later rollout of the same model may
// hold the record by then: everything here compares rollout ids, never versions alone.

import type { ModelRecord, Transition } from "../core/rollout";

/** The stage a `Promote Requested` command records its request under; CheckCanary quotes it. */
export const PROMOTE_REQUESTED_STAGE = "Promote Requested";

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

/** Thrown by a stage that finds its rollout already rolled back; the execution then ends as RolledBack. */
class RolledBack extends Error {
  override readonly name = "RolledBack";
}

/**
 * Throws unless this rollout still owns the model: a stage after the gates must never move traffic or
 * remove workloads on the strength of a rollout that was rolled back meanwhile.
 */
export function assertStillRunning(record: ModelRecord | undefined, rolloutId: string, stage: string): void {
  const rolledBack = recordedTransition(record, rolloutId, "Rollback");
  if (rolledBack) throw new RolledBack(rolledBack.reason);
  if (!holdsLock(record, rolloutId)) {
    const holder = record?.lock;
    throw new RolledBack(
      `${stage} stopped: rollout ${rolloutId} no longer holds the lock of ${record?.model ?? "its model"}${holder ? ` (rollout ${holder.rolloutId} of ${holder.version} does)` : ""}, so it was ended by someone else.`,
    );
  }
}
