// Promote in `constrained`, when it comes before the canary's last step has moved everything (a promotion
// requested at 25%): the canary's plan is carried on to 100% (core/capacity/stepwise-moves.ts, promotionMoves)
// — the weight up to what the candidate's ready replicas carry, a stable replica given up once the weight it
// served has moved, one candidate replica up and waited for until ready — rather than scaling the candidate to
// full size beside a stable that still runs most of its replicas (a 4-replica fleet at 25%: 3 + 4 = 7). The
// rollout never holds more than the fleet + 1, and one stable replica stays warm for a rollback in the watch.
//
// The moves are CanaryStep's own (lib/pipeline/canary-capacity.ts, scaleForStep): each weight recorded before
// the route moves, each stable scale-down undone if a rollback takes the model meanwhile. Each round is decided
// from the world as it is (the candidate counted by its ready replicas, the stable by its desired ones, the
// route's weight), so a retried Promote carries on where the first one stopped. Bounded by the caller's wait.

import { type CapacityStep } from "../core/capacity/capacity-plan";
import { promotionMoves } from "../core/capacity/stepwise-moves";
import { type CanaryContext, canaryCapacity, CANARY_CAPACITY_USES, scaleForStep } from "./canary-capacity";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import type { ReplicaWait } from "./replica-wait";

export const PROMOTE_CAPACITY_USES = combinedUse(CANARY_CAPACITY_USES, portUse({ clock: ["now", "sleep"] }));

type PromoteCapacityDeps = DepsUsing<typeof PROMOTE_CAPACITY_USES>;

/** Between looks at a candidate replica starting. */
const POLL_MS = 5_000;

/**
 * Grows the candidate to the fleet one replica at a time, up to (not including) the weight of 100 the
 * promotion itself sets; undefined when the rollout is not constrained or no candidate replica was needed.
 * Past `maxSeconds` it stops where it got to: `ready` then says how many of the fleet's replicas were ready.
 */
export async function growCandidateStepwise(
  context: CanaryContext,
  maxSeconds: number,
  deps: PromoteCapacityDeps,
): Promise<ReplicaWait | undefined> {
  const { fence, stable, candidate, rollout } = context;
  const capacity = await canaryCapacity(await fence.check(), context, deps);
  if (capacity.capacity.mode !== "constrained") return undefined;
  const fleet = capacity.capacity.stableReplicas;
  const started = deps.clock.now().getTime();
  const elapsed = () => Math.round((deps.clock.now().getTime() - started) / 1000);
  let grew = false;
  for (;;) {
    const record = await fence.check();
    const stableCount = await deps.serving.replicas(stable.handle);
    const candidateCount = await deps.serving.replicas(candidate.handle);
    const route = await deps.gateway.describe(rollout.model);
    const weight = route?.backends.find((b) => b.version === candidate.version)?.weight ?? 0;
    const moves = promotionMoves(fleet, {
      stable: stableCount.desired,
      candidate: candidateCount.ready,
      weight,
    });
    grew ||= moves.some((move) => move.kind === "scaleCandidate");
    const step: CapacityStep = { weight: 100, candidateReplicas: fleet, stableReplicas: 1, moves };
    const pending = await scaleForStep(step, record, context, capacity, deps);
    if (!pending) return grew ? { replicas: fleet, ready: fleet, seconds: elapsed() } : undefined;
    if (elapsed() >= maxSeconds) return { replicas: fleet, ready: pending.ready, seconds: elapsed() };
    await deps.clock.sleep(POLL_MS);
  }
}
