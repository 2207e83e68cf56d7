// Who may write for a rollout (DESIGN §8, ownership): the rollout holding its model's lock, as long as no
// other stage has claimed the rollout's end. Every rollout store applies these rules inside its conditional
// write — DynamoDB in its condition expression, the JSON file and the in-memory store under their locks — so
// a stage that lost the lock (a rollback, an abort, another stage ending the rollout) changes nothing.

import { RolledBack } from "../errors";
import type { LockHolder, Transition } from "./rollout";

/** True when `rolloutId` holds the lock and its end is unclaimed or claimed by `stage` itself. */
export function mayWriteAs(lock: LockHolder | undefined, rolloutId: string, stage: string): boolean {
  return lock?.rolloutId === rolloutId && (lock.ending === undefined || lock.ending.stage === stage);
}

/** The error a store throws for a write it refused because the transition's rollout no longer owns the model. */
export function ownershipLost(
  model: string,
  transition: Transition,
  lock: LockHolder | undefined,
): RolledBack {
  const now = !lock
    ? "no rollout holds it now"
    : lock.rolloutId !== transition.rolloutId
      ? `rollout ${lock.rolloutId} of ${lock.version} holds it now`
      : `${lock.ending?.stage ?? "another stage"} is ending the rollout`;
  return new RolledBack(
    `${transition.stage} stopped without changing anything: rollout ${transition.rolloutId} of ${model} ${transition.version} no longer owns the model (${now}).`,
    {
      hint: "The rollout was rolled back, aborted or finished while this stage ran; its record tells by whom and why (modelship status).",
    },
  );
}

/**
 * The id of the `index`th event a transition announces: the rollout, then the transition's time, so a
 * rollout's pending events sort in the order they were written.
 */
export function pendingEventId(transition: Transition, index: number): string {
  return `${transition.rolloutId}#${transition.at}#${transition.stage}#${String(index).padStart(3, "0")}`;
}
