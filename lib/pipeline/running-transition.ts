// The transition a stage records while a rollout goes on: when, which rollout and version, the stage, and the
// sentence that says what it did. One builder, so every stage's entry in the history has the same shape.

import type { RolloutIdentity, Transition } from "../core/rollout/rollout";
import type { Clock } from "../ports";

/** A `running` transition of `rollout` by `stage`, at the clock's now. */
export function runningTransition(
  rollout: Pick<RolloutIdentity, "id" | "version">,
  stage: string,
  reason: string,
  clock: Pick<Clock, "now">,
): Transition {
  return {
    at: clock.now().toISOString(),
    rolloutId: rollout.id,
    version: rollout.version,
    stage,
    status: "running",
    reason,
  };
}
