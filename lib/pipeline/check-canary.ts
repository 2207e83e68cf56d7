// The CheckCanary stage, after each bake (CheckCanary) and after the watch (CheckWatch): reads the rollout
// record and the alarms, and tells the state machine whether to roll back, promote early or go on.
// - Rolled back already — by the alarm rule or a command while the execution waited — or any alarm in ALARM:
//   roll back, naming the alarm with its value and threshold, or who rolled back and why.
// - A `Promote Requested` command waiting in the record (during the canary): promote now; the request is
//   consumed with a transition, so a retry still promotes and a later check does not promote twice.
// - Otherwise go on, with a one-line status: the step, the weights and every alarm's value and threshold.

import { RolledBack } from "../core/errors";
import type { ExecutionState, ModelRecord } from "../core/rollout/rollout";
import { alarmStatusLine, firingReason } from "./alarm-report";
import { type DepsUsing, portUse } from "./port-use";
import type { CanaryCheck } from "./flow-state";
import {
  lostOwnershipReason,
  ownsModel,
  PROMOTE_REQUESTED_STAGE,
  recordedTransition,
} from "./rollout-record";
import { runningTransition } from "./running-transition";

export const CHECK_CANARY_USES = portUse({ store: ["get", "record"], alarms: ["states"], clock: ["now"] });

type CheckCanaryDeps = DepsUsing<typeof CHECK_CANARY_USES>;

const STAGE = "CheckCanary";

export async function checkCanary(state: ExecutionState, deps: CheckCanaryDeps): Promise<CanaryCheck> {
  const { rollout } = state;
  const record = await deps.store.get(rollout.model);
  if (!record || !ownsModel(record, rollout.id, STAGE)) {
    return { rollback: true, promote: false, reason: lostOwnershipReason(record, rollout.id, STAGE) };
  }

  const names = record.alarmNames ?? [];
  const states = names.length > 0 ? await deps.alarms.states(names) : [];
  const firing = firingReason(states);
  if (firing) {
    return { rollback: true, promote: false, reason: firing };
  }

  const watching = record.status === "promoted" && record.stable?.rolloutId === rollout.id;
  if (!watching) {
    const consumed = record.history.findLast((t) => t.rolloutId === rollout.id)?.stage === STAGE;
    if (consumed || record.promoteRequested) {
      const reason = promotionReason(record, rollout.id);
      if (!consumed) {
        try {
          await deps.store.record(
            rollout.model,
            runningTransition(rollout, STAGE, reason, deps.clock),
            { promoteRequested: null },
            { owned: true },
          );
        } catch (error) {
          // Rolled back between the read and this write: the rollback wins.
          if (!(error instanceof RolledBack)) throw error;
          return { rollback: true, promote: false, reason: error.reason };
        }
      }
      return { rollback: false, promote: true, reason };
    }
  }
  return {
    rollback: false,
    promote: false,
    reason: `${position(record, watching)}; ${alarmStatusLine(names, states)}.`,
  };
}

function promotionReason(record: ModelRecord, rolloutId: string): string {
  const request = recordedTransition(record, rolloutId, PROMOTE_REQUESTED_STAGE);
  const step = record.canary ? ` at step ${record.canary.step} of ${record.canary.steps}` : "";
  return `Promoting ${record.candidate?.version ?? "the candidate"}${step}, skipping the remaining steps: ${request?.reason ?? "a promotion was requested."}`;
}

/** Where the rollout is: the step and weights during the canary, the watch after the promotion. */
function position(record: ModelRecord, watching: boolean): string {
  if (watching) {
    const warm = record.previousStable ? ` (${record.previousStable.version} kept warm)` : "";
    return `Watching ${record.stable?.version ?? "the new version"} at 100%${warm}`;
  }
  const { canary, candidate, stable, weights } = record;
  if (!canary) return `${candidate?.version ?? "The candidate"} is not taking traffic yet`;
  return `Step ${canary.step} of ${canary.steps}: ${candidate?.version ?? "the candidate"} at ${canary.weight}%, ${stable?.version ?? "stable"} at ${weights?.stable ?? 100 - canary.weight}%`;
}
