// The moves that finish a constrained rollout from wherever it stands, one replica at a time, never holding more
// than the fleet + 1 replicas: back to the stable (a rollback, during the canary or the watch) or on to the
// candidate (a promotion requested before the canary's last step). Pure: Rollback and Promote read the counts
// and the weight from the world before each move and ask again, so a call that stopped half-way — or a second
// call — picks up where the world is, and finds nothing left to do once it is done.
//
// The fleet is the stable's size when the canary began (the rollout's capacity record); one replica carries
// 100 / fleet percent of the traffic. A version that grows is counted by its READY replicas (the caller waits
// for a scale-up before it asks again), a version that shrinks by its desired ones (it holds their GPUs until
// they are gone): so a weight never moves onto a replica still starting, and the cap holds for what the
// cluster must fit.

import { type CapacityMove, candidateReplicasAt, stableReplicasNeededAt } from "./capacity-plan";

/** Where a rollout stands: each version's replicas (see the file's head for which count) and the candidate's weight. */
export interface CapacityPoint {
  readonly stable: number;
  readonly candidate: number;
  /** The candidate's share of the traffic, in whole percent. */
  readonly weight: number;
}

/**
 * Back to the stable: repeat { the weight down to what the stable's replicas carry; the candidate down to what
 * that weight needs; one stable replica up, waited for until ready } until the stable is whole and the weight
 * 0. Each restored replica takes back its share as soon as it is ready, and the candidate gives up the replica
 * that served it before the next stable one starts, so stable + candidate ≤ fleet + 1 at every move.
 *
 * Where 100 / fleet is not a whole number (a fleet of 3), the weight the stable takes back is rounded up, so the
 * stable carries the rounding — under one percent of the traffic beyond its replicas' share — and the
 * candidate never carries more than its own replicas do while it shrinks. The candidate is left at weight 0 with
 * what it has (one replica): the caller removes it.
 */
export function restoreMoves(fleet: number, from: CapacityPoint): CapacityMove[] {
  const moves: CapacityMove[] = [];
  let { stable, candidate, weight } = from;
  for (;;) {
    const left = Math.floor((Math.max(0, fleet - stable) * 100) / fleet);
    if (left < weight) {
      weight = left;
      moves.push({ kind: "setWeight", weight });
    }
    if (weight > 0 && candidate > candidateReplicasAt(fleet, weight)) {
      candidate = candidateReplicasAt(fleet, weight);
      moves.push({ kind: "scaleCandidate", replicas: candidate });
    }
    if (stable >= fleet) return moves;
    stable += 1;
    moves.push({ kind: "scaleStable", replicas: stable });
  }
}

/**
 * On to the candidate, continuing the canary's plan (core/capacity/capacity-plan.ts) to weight 100: repeat {
 * the weight up to what the candidate's replicas carry; the stable down to what its remaining share needs (at
 * least one replica, kept warm for a rollback during the watch); one candidate replica up, waited for until
 * ready } until the candidate runs the fleet, then the weight to 100. The candidate carries the rounding in
 * this direction, as in the canary's plan.
 */
export function promotionMoves(fleet: number, from: CapacityPoint): CapacityMove[] {
  const moves: CapacityMove[] = [];
  let { stable, candidate, weight } = from;
  while (candidate < fleet) {
    if (candidate > 0) {
      const carried = Math.min(100, Math.ceil((candidate * 100) / fleet));
      if (carried > weight) {
        weight = carried;
        moves.push({ kind: "setWeight", weight });
      }
      const kept = Math.max(1, stableReplicasNeededAt(fleet, weight));
      if (stable > kept) {
        stable = kept;
        moves.push({ kind: "scaleStable", replicas: stable });
      }
    }
    candidate += 1;
    moves.push({ kind: "scaleCandidate", replicas: candidate });
  }
  if (weight < 100) moves.push({ kind: "setWeight", weight: 100 });
  return moves;
}
