import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CapacityMove, planCapacity } from "../../lib/core/capacity/capacity-plan";
import { type CapacityPoint, promotionMoves, restoreMoves } from "../../lib/core/capacity/stepwise-moves";

/** The point after each move, starting at `from`. */
function replay(from: CapacityPoint, moves: readonly CapacityMove[]) {
  let point = from;
  return moves.map((move) => {
    if (move.kind === "scaleCandidate") point = { ...point, candidate: move.replicas };
    if (move.kind === "scaleStable") point = { ...point, stable: move.replicas };
    if (move.kind === "setWeight") point = { ...point, weight: move.weight };
    return { ...point, move };
  });
}

const end = (from: CapacityPoint, moves: readonly CapacityMove[]) => replay(from, moves).at(-1) ?? from;

const risingWeights = fc
  .uniqueArray(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 6 })
  .map((weights) => weights.sort((a, b) => a - b));

/**
 * A point a constrained rollout can stand at when a rollback or a promotion starts: any number of its canary's
 * moves done (the last one possibly only half done: a scale-up is counted by whoever is about to act, see
 * stepwise-moves.ts, as either side of the move), then possibly part of an early promotion, or part of an
 * earlier rollback that stopped. The candidate starts with the replica DeployCandidate gave it.
 */
const reachable = fc
  .record({
    fleet: fc.integer({ min: 1, max: 7 }),
    weights: risingWeights,
    canaryDone: fc.nat(),
    then: fc.constantFrom("nothing", "part of a promotion", "part of a rollback"),
    thenDone: fc.nat(),
  })
  .map(({ fleet, weights, canaryDone, then, thenDone }) => {
    const canary = planCapacity({ stableReplicas: fleet, weights, mode: "constrained" }).steps.flatMap(
      (step) => step.moves,
    );
    let point: CapacityPoint = { stable: fleet, candidate: 1, weight: 0 };
    point = end(point, canary.slice(0, canaryDone % (canary.length + 1)));
    if (then !== "nothing") {
      const more = (then === "part of a promotion" ? promotionMoves : restoreMoves)(fleet, point);
      point = end(point, more.slice(0, thenDone % (more.length + 1)));
    }
    return { fleet, point };
  });

/** The watch after a promotion: the previous stable kept warm at one replica, the new one at its own size. */
const watching = fc
  .integer({ min: 1, max: 7 })
  .chain((fleet) =>
    fc
      .integer({ min: 1, max: fleet })
      .map((candidate) => ({ fleet, point: { stable: 1, candidate, weight: 100 } })),
  );

describe("restoreMoves: a constrained rollback, one stable replica at a time", () => {
  it("restores a 4-replica stable at 50% one replica at a time, each taking back its share once ready", () => {
    expect(restoreMoves(4, { stable: 3, candidate: 2, weight: 50 })).toEqual([
      { kind: "setWeight", weight: 25 },
      { kind: "scaleCandidate", replicas: 1 },
      { kind: "scaleStable", replicas: 4 },
      { kind: "setWeight", weight: 0 },
    ]);
  });

  it("brings the previous stable back from its one warm replica during the watch", () => {
    expect(restoreMoves(4, { stable: 1, candidate: 4, weight: 100 })).toEqual([
      { kind: "setWeight", weight: 75 },
      { kind: "scaleCandidate", replicas: 3 },
      { kind: "scaleStable", replicas: 2 },
      { kind: "setWeight", weight: 50 },
      { kind: "scaleCandidate", replicas: 2 },
      { kind: "scaleStable", replicas: 3 },
      { kind: "setWeight", weight: 25 },
      { kind: "scaleCandidate", replicas: 1 },
      { kind: "scaleStable", replicas: 4 },
      { kind: "setWeight", weight: 0 },
    ]);
  });

  it("lets the stable carry the rounding of a fleet of 3: it takes back 34%, not 33%", () => {
    expect(restoreMoves(3, { stable: 1, candidate: 3, weight: 100 }).slice(0, 3)).toEqual([
      { kind: "setWeight", weight: 66 },
      { kind: "scaleCandidate", replicas: 2 },
      { kind: "scaleStable", replicas: 2 },
    ]);
  });

  it("only moves the weight back when the stable never gave up a replica", () => {
    expect(restoreMoves(4, { stable: 4, candidate: 1, weight: 25 })).toEqual([
      { kind: "setWeight", weight: 0 },
    ]);
  });

  for (const [name, starts] of [
    ["from any point of a canary, a promotion or a rollback", reachable],
    ["from the watch", watching],
  ] as const) {
    describe(name, () => {
      it("never runs more than the fleet + 1 replicas at any move", () => {
        fc.assert(
          fc.property(starts, ({ fleet, point }) => {
            for (const at of replay(point, restoreMoves(fleet, point))) {
              expect(at.stable + at.candidate, JSON.stringify(at)).toBeLessThanOrEqual(fleet + 1);
            }
          }),
        );
      });

      it("only ever moves the weight down, and ends with the stable whole and the weight 0", () => {
        fc.assert(
          fc.property(starts, ({ fleet, point }) => {
            const moves = restoreMoves(fleet, point);
            let weight = point.weight;
            for (const at of replay(point, moves)) {
              expect(at.weight).toBeLessThanOrEqual(weight);
              weight = at.weight;
            }
            expect(end(point, moves)).toMatchObject({ stable: Math.max(fleet, point.stable), weight: 0 });
          }),
        );
      });

      it("moves traffic onto the stable only once its replicas are ready, the rounding under 1%", () => {
        fc.assert(
          fc.property(starts, ({ fleet, point }) => {
            // A scale-up is waited for before the next move: at a weight move the stable's replicas are ready.
            for (const at of replay(point, restoreMoves(fleet, point))) {
              expect(100 - at.weight).toBeLessThan((at.stable * 100) / fleet + 1);
              // …and the candidate, shrinking, keeps the replicas its remaining share needs (in the watch it may
              // run fewer than the fleet, sized by its own autoscaler: it is only ever scaled down to that share).
              if (at.weight > 0 && at.move.kind === "scaleCandidate")
                expect(at.weight).toBeLessThanOrEqual((at.candidate * 100) / fleet);
            }
          }),
        );
      });

      it("finds nothing left to do when called again from where it ended", () => {
        fc.assert(
          fc.property(starts, ({ fleet, point }) => {
            expect(restoreMoves(fleet, end(point, restoreMoves(fleet, point)))).toEqual([]);
          }),
        );
      });
    });
  }
});

describe("promotionMoves: an early promotion in constrained continues the canary's plan", () => {
  it("takes a 25% canary of a 4-replica stable to 100% one candidate replica at a time", () => {
    expect(promotionMoves(4, { stable: 4, candidate: 1, weight: 25 })).toEqual([
      { kind: "scaleStable", replicas: 3 },
      { kind: "scaleCandidate", replicas: 2 },
      { kind: "setWeight", weight: 50 },
      { kind: "scaleStable", replicas: 2 },
      { kind: "scaleCandidate", replicas: 3 },
      { kind: "setWeight", weight: 75 },
      { kind: "scaleStable", replicas: 1 },
      { kind: "scaleCandidate", replicas: 4 },
      { kind: "setWeight", weight: 100 },
    ]);
  });

  it("does the same moves as the canary's own plan to 100 from the same point", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 99 }), (fleet, first) => {
        const plan = planCapacity({ stableReplicas: fleet, weights: [first, 100], mode: "constrained" });
        const [step1, step2] = plan.steps;
        const at = {
          stable: step1?.stableReplicas ?? 0,
          candidate: step1?.candidateReplicas ?? 0,
          weight: first,
        };
        expect(promotionMoves(fleet, at)).toEqual(step2?.moves);
      }),
    );
  });

  describe("from any point of a canary or an earlier promotion", () => {
    const starts = reachable;

    it("never runs more than the fleet + 1 replicas, and keeps one stable replica warm", () => {
      fc.assert(
        fc.property(starts, ({ fleet, point }) => {
          for (const at of replay(point, promotionMoves(fleet, point))) {
            expect(at.stable + at.candidate, JSON.stringify(at)).toBeLessThanOrEqual(fleet + 1);
            expect(at.stable).toBeGreaterThanOrEqual(1);
          }
        }),
      );
    });

    it("only ever moves the weight up, each share onto ready candidate replicas, and ends at 100", () => {
      fc.assert(
        fc.property(starts, ({ fleet, point }) => {
          const moves = promotionMoves(fleet, point);
          let weight = point.weight;
          for (const at of replay(point, moves)) {
            expect(at.weight).toBeGreaterThanOrEqual(weight);
            weight = at.weight;
            if (at.move.kind === "setWeight") {
              // Whole-percent weights: the candidate carries at most the rounding (under 1%) beyond its share.
              expect(at.weight).toBeLessThan((at.candidate * 100) / fleet + 1);
            }
            // The stable gives up a replica only once the weight it served has moved.
            if (at.move.kind === "scaleStable") {
              expect(at.stable * 100).toBeGreaterThanOrEqual((100 - at.weight) * fleet);
            }
          }
          expect(end(point, moves)).toMatchObject({
            candidate: Math.max(fleet, point.candidate),
            weight: 100,
          });
          expect(promotionMoves(fleet, end(point, moves))).toEqual([]);
        }),
      );
    });
  });
});
