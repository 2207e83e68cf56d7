// What a rollback does before the last of the traffic returns to the stable, in `constrained`
// (core/capacity/stepwise-moves.ts, restoreMoves): the stable, which gave up replicas as the candidate grew,
// grows back one replica at a time — the weight down to what the stable's ready replicas carry, the candidate
// down to what its remaining weight needs, one stable replica up and waited for until ready — so the rollout
// never holds more than the fleet + 1 replicas, and each restored replica takes back its share as soon as it
// is ready. The restore is measured: the rollback is slower by that much, and its reason and event say so. A
// `surge` or blue/green rollout never shrank the stable: nothing to restore, and nothing is said.
//
// Each move is decided from the world as it is now (both versions' replicas, the route's weight), so a call
// that stopped half-way, or a second one, picks up where the first left off; the stable's growth counts only
// its ready replicas, so a replica a first call scaled is waited for, not scaled past.
//
// During the watch the version rolled back is the route's stable and the one to return to its previous stable,
// which a weighted split cannot reach: it is registered as the route's candidate first (at weight 0), so the
// weights can move onto it one replica at a time; Rollback's promotion of it then makes it the stable again.
//
// The restore is bounded (RESTORE_WAIT_SECONDS, well inside the Rollback Task's timeout): a rollback is called
// by an alarm or a command as well as by the state machine, and must end. Past the bound the rest of the
// traffic returns to the stable regardless — the rollback promotes it — and the reason says how far it got; the
// stable's remaining replicas start once the candidate is gone (restoreFleet), so the cap holds even then.

import { type CapacityMove } from "../core/capacity/capacity-plan";
import { restoreMoves } from "../core/capacity/stepwise-moves";
import type { ModelRecord, ServingVersion } from "../core/rollout/rollout";
import { type DepsUsing, portUse } from "./port-use";
import type { ReplicaWait } from "./replica-wait";

export const STABLE_RESTORE_USES = portUse({
  serving: ["scale", "replicas"],
  gateway: ["describe", "register", "setWeights"],
  clock: ["now", "sleep"],
});

type RestoreDeps = DepsUsing<typeof STABLE_RESTORE_USES>;

/**
 * The longest a rollback spends restoring the stable's replicas: ten minutes, room for a GPU node to be added
 * and model servers to load their weights one after another, and well inside the Rollback Task's 900 s (the
 * functions that run a rollback get its timeout, lib/infra/model-pipeline.ts).
 */
export const RESTORE_WAIT_SECONDS = 600;
/** Between looks at a replica starting. */
const POLL_MS = 5_000;

/**
 * The stable scaled back: to how many replicas, how many were ready when the last of the traffic returned, and
 * the seconds from the first move of the restore to its end.
 */
export type StableRestore = ReplicaWait;

/** The two versions of a rollback on the route: the one traffic returns to and the one rolled back. */
export interface RestorePair {
  readonly model: string;
  readonly restore: ServingVersion;
  readonly rolledBack: ServingVersion;
}

/**
 * Carries out the restore moves when the rollout's capacity plan shrank `restore`; undefined when no stable
 * replica had to be added or waited for (a rollback before the stable gave up any replica, or after an
 * earlier call restored it: then at most the weight moved).
 */
export async function restoreStable(
  record: ModelRecord,
  pair: RestorePair,
  deps: RestoreDeps,
): Promise<StableRestore | undefined> {
  const fleet = restoredFleet(record, pair.restore);
  if (fleet === undefined) return undefined;
  const { model, restore, rolledBack } = pair;
  const started = deps.clock.now().getTime();
  const elapsed = () => Math.round((deps.clock.now().getTime() - started) / 1000);
  let grew = false;
  for (;;) {
    const stable = await deps.serving.replicas(restore.handle);
    const candidate = await deps.serving.replicas(rolledBack.handle);
    const route = await deps.gateway.describe(model);
    const weight = route?.backends.find((b) => b.version === rolledBack.version)?.weight ?? 0;
    // The stable grows: its ready replicas count. The candidate shrinks: its desired ones hold the GPUs.
    const [move] = restoreMoves(fleet, { stable: stable.ready, candidate: candidate.desired, weight });
    if (!move) return grew ? { replicas: fleet, ready: fleet, seconds: elapsed() } : undefined;
    if (move.kind === "scaleStable") {
      grew = true;
      if (stable.desired < move.replicas) await deps.serving.scale(restore.handle, move.replicas);
      else if (elapsed() >= RESTORE_WAIT_SECONDS) {
        return { replicas: fleet, ready: stable.ready, seconds: elapsed() };
      } else await deps.clock.sleep(POLL_MS);
    } else if (move.kind === "scaleCandidate") {
      await deps.serving.scale(rolledBack.handle, move.replicas);
    } else {
      await setRestoreWeight(pair, move, route?.backends ?? [], route?.stickiness, deps);
    }
  }
}

/**
 * The stable's size before the canary, when the rollout's capacity plan may have shrunk `restore`: the
 * constrained rollout's recorded fleet; undefined for a surge one, or a version the plan never touched.
 */
export function restoredFleet(record: ModelRecord, restore: ServingVersion): number | undefined {
  const capacity = record.capacity;
  if (!capacity || capacity.mode !== "constrained" || capacity.stableVersion !== restore.version)
    return undefined;
  return capacity.stableReplicas;
}

/**
 * The candidate's weight lowered to `move.weight`, the rest to the version restored. During the watch that
 * version is the route's previous stable, outside the weighted split: it is registered as the candidate first.
 */
async function setRestoreWeight(
  { model, restore, rolledBack }: RestorePair,
  move: Extract<CapacityMove, { kind: "setWeight" }>,
  backends: readonly { readonly variant: string; readonly version: string }[],
  stickiness: Parameters<RestoreDeps["gateway"]["setWeights"]>[2],
  deps: RestoreDeps,
): Promise<void> {
  const rolledBackIsStable = backends.some((b) => b.variant === "stable" && b.version === rolledBack.version);
  if (!rolledBackIsStable) {
    await deps.gateway.setWeights(model, { stable: 100 - move.weight, candidate: move.weight }, stickiness);
    return;
  }
  if (!backends.some((b) => b.variant === "candidate" && b.version === restore.version))
    await deps.gateway.register(model, restore.handle);
  await deps.gateway.setWeights(model, { stable: move.weight, candidate: 100 - move.weight });
}

/** The clause a rollback's reason gets for a restore: how long it took, or how far it got. */
export function describeRestore(version: string, restored: StableRestore): string {
  const { replicas, ready, seconds } = restored;
  return ready >= replicas
    ? ` — its ${replicas} replicas restored first, one at a time, each taking back its share of the traffic once ready (rollout.capacity: constrained): the restore took ${seconds} s, the rollback was slower by that much`
    : ` — its replicas were being restored one at a time (rollout.capacity: constrained), but only ${ready} of ${replicas} were ready after ${seconds} s, the longest a rollback waits: the rest of the traffic returned to ${version} regardless, its other replicas start once the candidate is gone`;
}
