// What a rollback does before any traffic returns to the stable, in `constrained` (core/capacity/capacity-plan's
// rollbackMoves): the stable, which gave up replicas as the candidate grew, is scaled back to the size the
// record says it had when the canary began, and its replicas are waited for until ready — so the traffic coming
// back finds the capacity that served it before. The wait is measured: the rollback is slower by that much, and
// its reason and event say so. A `surge` or blue/green rollout never shrank the stable: nothing to restore, and
// nothing is said.
//
// The wait is bounded (RESTORE_WAIT_SECONDS, well inside the Rollback Task's timeout): a rollback is called by
// an alarm or a command as well as by the state machine, and must end. Past the bound traffic returns to the
// replicas that are ready, the rest starting behind it, and the reason says how many were ready.

import { planCapacity, rollbackMoves } from "../core/capacity/capacity-plan";
import type { ModelRecord, ServingVersion } from "../core/rollout/rollout";
import { type DepsUsing } from "./port-use";
import { REPLICA_WAIT_USES, type ReplicaWait, scaleAndWaitReady } from "./replica-wait";

export const STABLE_RESTORE_USES = REPLICA_WAIT_USES;

type RestoreDeps = DepsUsing<typeof STABLE_RESTORE_USES>;

/**
 * The longest a rollback waits for the stable's replicas: ten minutes, room for a GPU node to be added and a
 * model server to load its weights, and well inside the Rollback Task's 900 s (the functions that run a
 * rollback get its timeout, lib/infra/model-pipeline.ts).
 */
export const RESTORE_WAIT_SECONDS = 600;
/** The stable scaled back: to how many replicas, how many were ready when traffic returned, and after how long. */
export type StableRestore = ReplicaWait;

/**
 * Scales `restore` — the version traffic is about to return to — back to its recorded size and waits for it,
 * when the rollout's capacity plan shrank it; undefined when there is nothing to restore.
 */
export async function restoreStable(
  record: ModelRecord,
  restore: ServingVersion | undefined,
  deps: RestoreDeps,
): Promise<StableRestore | undefined> {
  const capacity = record.capacity;
  if (!restore || !capacity || capacity.stableVersion !== restore.version) return undefined;
  const plan = planCapacity({ stableReplicas: capacity.stableReplicas, weights: [100], mode: capacity.mode });
  const move = rollbackMoves(plan).find((m) => m.kind === "scaleStable");
  if (!move) return undefined;
  // Undefined for a rollback before the stable gave up any replica (or after an earlier call restored it).
  return scaleAndWaitReady(restore.handle, move.replicas, RESTORE_WAIT_SECONDS, deps);
}

/** The clause a rollback's reason gets for a restore: how long it took, or how far it got. */
export function describeRestore(version: string, restored: StableRestore): string {
  const { replicas, ready, seconds } = restored;
  return ready >= replicas
    ? ` — its ${replicas} replicas restored first (rollout.capacity: constrained), ready ${seconds} s after the scale: the rollback was slower by that much`
    : ` — it was scaled back to ${replicas} replicas first (rollout.capacity: constrained), but only ${ready} were ready after ${seconds} s, the longest a rollback waits: traffic returned to ${version} regardless, the rest start behind it`;
}
