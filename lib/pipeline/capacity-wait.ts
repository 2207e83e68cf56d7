// CheckCapacity, before anything is deployed (issue 13 §2): one look at whether the cluster holds what the
// rollout's capacity plan needs at its peak (deploy-capacity.ts), and what it decides
// (core/capacity/capacity-wait.ts) — deploy now, wait (the state machine's WaitForCapacity, then another look),
// or InsufficientCapacity once `rollout.capacityWaitSeconds` have passed since the first look. Nothing is
// deployed here, so every way out of the wait — enough, the bound, an abort — leaves nothing running.
//
// The record gets one transition when a wait starts (the reason: what is needed and free, the plan, since and
// until when) and one when it ends with enough; the looks in between write nothing, so a long wait is not a
// storm of transitions. A failure after the bound says how long it waited, through Cleanup's "Stage Failed".

import {
  type CapacityWaitDecision,
  decideCapacityWait,
  describeWaitSeconds,
} from "../core/capacity/capacity-wait";
import { describeCaughtError, InsufficientCapacity } from "../core/errors";
import type { ExecutionState, RolloutIdentity } from "../core/rollout/rollout";
import type { CapacityCheck } from "../ports";
import { ABORT_WATCH_USES, assertNotAborted } from "./abort-watch";
import { checkRolloutCapacity, DEPLOY_CAPACITY_USES, INSUFFICIENT_CAPACITY_HINT } from "./deploy-capacity";
import type { CapacityProgress } from "./flow-state";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { FENCE_USES, RolloutFence } from "./rollout-fence";
import { runningTransition } from "./running-transition";

export const CAPACITY_WAIT_USES = combinedUse(
  ABORT_WATCH_USES,
  DEPLOY_CAPACITY_USES,
  FENCE_USES,
  portUse({ clock: ["now"] }),
);

type CapacityWaitDeps = DepsUsing<typeof CAPACITY_WAIT_USES>;

/** The state that looks, and the stage name of its transitions. */
export const CHECK_CAPACITY_STAGE = "CheckCapacity";

/** How the transition that starts a wait begins: status tells a waiting rollout by it. */
export const CAPACITY_WAIT_STARTED = "Waiting for capacity";

/** The Task's input: CheckCapacity hands DeployCandidate's function the state under `state`. */
export interface CapacityLookInput {
  readonly action: "checkCapacity";
  readonly state: ExecutionState;
}

/**
 * One look: `waiting` set while the rollout waits (the state machine waits and looks again), `enough` when it
 * may deploy; InsufficientCapacity past the bound. `gpusPerReplica` is what DeployCandidate will ask for.
 */
export async function lookForCapacity(
  state: ExecutionState,
  gpusPerReplica: number,
  deps: CapacityWaitDeps,
): Promise<CapacityProgress> {
  const { rollout, manifest, plan } = state;
  if (!manifest || !plan) {
    throw new Error(
      `${CHECK_CAPACITY_STAGE} needs $.manifest and $.plan (from Prepare); the state has ${manifest ? "no plan" : "no manifest"}.`,
    );
  }
  // Stopped by a command while it waited: the rollout is over, and nothing was deployed to undo.
  await assertNotAborted(deps, rollout, CHECK_CAPACITY_STAGE);
  const previous = state.capacity as CapacityProgress | undefined;
  const check = await checkRolloutCapacity(rollout, manifest, gpusPerReplica, deps);
  // A plan made before the wait existed: no wait, as before.
  const waitSeconds = plan.capacityWaitSeconds ?? 0;
  const decision = decideCapacityWait({
    enough: check.enough,
    ...(previous?.since !== undefined && { since: previous.since }),
    now: deps.clock.now(),
    waitSeconds,
    refused: previous?.refused !== undefined,
  });
  const look = {
    since: decision.since,
    waitedSeconds: decision.waitedSeconds,
    plan: check.plan,
    reason: check.reason,
    neededGpus: check.neededGpus,
    freeGpus: check.freeGpus,
  };
  const fence = new RolloutFence(deps.store, rollout, CHECK_CAPACITY_STAGE);
  switch (decision.kind) {
    case "deploy":
      if (previous?.waiting) {
        await fence.record(
          runningTransition(
            rollout,
            CHECK_CAPACITY_STAGE,
            `${rollout.model} ${rollout.version} has the capacity it waited ${describeWaitSeconds(decision.waitedSeconds)} for: ${check.reason} Deploying it now.`,
            deps.clock,
          ),
        );
      }
      return { ...look, enough: true };
    case "wait":
      if (!previous?.waiting) {
        await fence.record(
          runningTransition(
            rollout,
            CHECK_CAPACITY_STAGE,
            waitingReason(rollout, check, decision, waitSeconds),
            deps.clock,
          ),
        );
      }
      return { ...look, enough: false, waiting: { until: decision.until } };
    case "exhausted":
      throw new InsufficientCapacity(exhaustedReason(check, decision, waitSeconds, previous), {
        hint: INSUFFICIENT_CAPACITY_HINT,
      });
  }
}

/** `Waiting for capacity: … The plan: … Since …, until … (rollout.capacityWaitSeconds: 900).` */
function waitingReason(
  rollout: RolloutIdentity,
  check: CapacityCheck & { readonly plan: string },
  decision: Extract<CapacityWaitDecision, { kind: "wait" }>,
  waitSeconds: number,
): string {
  return `${CAPACITY_WAIT_STARTED} before deploying ${rollout.model} ${rollout.version}: ${check.reason} The plan: ${check.plan}. Waiting since ${decision.since}, until ${decision.until} (rollout.capacityWaitSeconds: ${waitSeconds}); then InsufficientCapacity.`;
}

function exhaustedReason(
  check: CapacityCheck & { readonly plan: string },
  decision: CapacityWaitDecision,
  waitSeconds: number,
  previous: CapacityProgress | undefined,
): string {
  const waited =
    waitSeconds === 0
      ? "It did not wait (rollout.capacityWaitSeconds: 0)."
      : `It waited ${describeWaitSeconds(decision.waitedSeconds)}, since ${decision.since} (rollout.capacityWaitSeconds: ${waitSeconds}).`;
  // Enough at this look, but a deploy was refused for capacity in between: say what refused it.
  const refused =
    check.enough && previous?.refused !== undefined
      ? ` The last deploy was refused: ${describeCaughtError(previous.refused).reason}`
      : "";
  return `${check.reason}${refused} The plan: ${check.plan}. ${waited} Nothing was deployed.`;
}
