// A rollout stopped by hand (Ctrl-C on `modelship run`) ends where the state machine's Catch would have sent
// it: before the canary (no RegisterGateway result yet) through Cleanup, from the canary on through Rollback —
// which also returns the route to stable, deletes the alarms, stops the prober and clears the record's
// candidate and weights, none of which Cleanup does.

import type { ExecutionState } from "../core/rollout/rollout";
import { cleanup, CLEANUP_USES } from "./cleanup";
import { combinedUse, type DepsUsing } from "./port-use";
import { ROLLBACK_USES, stateMachineRollback } from "./rollback";

export const STOP_INTERRUPTED_USES = combinedUse(CLEANUP_USES, ROLLBACK_USES);

/** What the stop undid, in sentences, and what it could not. */
export interface InterruptedOutcome {
  /** The stage that ended it: the one the state machine's Catch would have chosen. */
  readonly by: "Cleanup" | "Rollback";
  readonly cleaned: readonly string[];
  readonly leftBehind: readonly string[];
}

export async function stopInterruptedRollout(
  state: ExecutionState,
  deps: DepsUsing<typeof STOP_INTERRUPTED_USES>,
): Promise<InterruptedOutcome> {
  if (state.gateway === undefined) {
    const outcome = await cleanup(state, deps);
    return { by: "Cleanup", cleaned: outcome.cleaned, leftBehind: outcome.leftBehind };
  }
  const outcome = await stateMachineRollback(state, deps);
  return { by: "Rollback", cleaned: [outcome.reason], leftBehind: [] };
}
