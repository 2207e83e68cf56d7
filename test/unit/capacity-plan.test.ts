import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CapacityPlan,
  candidateReplicasAt,
  describeCapacityPlan,
  planCapacity,
  stableReplicasNeededAt,
} from "../../lib/core/capacity/capacity-plan";
import { type CapacityMode } from "../../lib/core/manifest/rollout-settings";

/** Every moment of a plan: the counts and the weight after each move, starting from the stable alone. */
function replay(plan: CapacityPlan) {
  let candidate = 0;
  let stable = plan.stableReplicas;
  let weight = 0;
  const moments: { candidate: number; stable: number; weight: number; kind: string }[] = [];
  for (const move of plan.steps.flatMap((step) => step.moves)) {
    if (move.kind === "scaleCandidate") candidate = move.replicas;
    if (move.kind === "scaleStable") stable = move.replicas;
    if (move.kind === "setWeight") weight = move.weight;
    moments.push({ candidate, stable, weight, kind: move.kind });
  }
  return moments;
}

const risingWeights = fc
  .uniqueArray(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 12 })
  .map((weights) => weights.sort((a, b) => a - b));
const modes = fc.constantFrom<CapacityMode>("surge", "constrained");

describe("candidateReplicasAt", () => {
  it("gives the candidate its share of the stable's replicas, rounded up, and at least one", () => {
    expect(candidateReplicasAt(4, 25)).toBe(1);
    expect(candidateReplicasAt(4, 26)).toBe(2);
    expect(candidateReplicasAt(4, 100)).toBe(4);
    expect(candidateReplicasAt(10, 5)).toBe(1);
    expect(candidateReplicasAt(1, 1)).toBe(1);
    expect(candidateReplicasAt(40, 1)).toBe(1);
    expect(candidateReplicasAt(40, 3)).toBe(2);
  });
});

describe("planCapacity", () => {
  it("in surge, scales the candidate to each step's share before the weight moves, the stable untouched", () => {
    const plan = planCapacity({ stableReplicas: 4, weights: [25, 50, 100], mode: "surge" });
    expect(plan.steps.map((s) => s.moves)).toEqual([
      [
        { kind: "scaleCandidate", replicas: 1 },
        { kind: "setWeight", weight: 25 },
      ],
      [
        { kind: "scaleCandidate", replicas: 2 },
        { kind: "setWeight", weight: 50 },
      ],
      [
        { kind: "scaleCandidate", replicas: 4 },
        { kind: "setWeight", weight: 100 },
      ],
    ]);
    expect(plan.peakReplicas).toBe(8);
  });

  it("in constrained, moves the weight, then frees a stable replica, then adds a candidate one: never over 4 + 1", () => {
    const plan = planCapacity({ stableReplicas: 4, weights: [25, 50, 100], mode: "constrained" });
    expect(plan.steps.map((s) => s.moves)).toEqual([
      [
        { kind: "scaleCandidate", replicas: 1 },
        { kind: "setWeight", weight: 25 },
      ],
      [
        { kind: "scaleStable", replicas: 3 },
        { kind: "scaleCandidate", replicas: 2 },
        { kind: "setWeight", weight: 50 },
      ],
      [
        { kind: "scaleStable", replicas: 2 },
        { kind: "scaleCandidate", replicas: 3 },
        { kind: "setWeight", weight: 75 },
        { kind: "scaleStable", replicas: 1 },
        { kind: "scaleCandidate", replicas: 4 },
        { kind: "setWeight", weight: 100 },
      ],
    ]);
    expect(plan.steps.map((s) => [s.candidateReplicas, s.stableReplicas])).toEqual([
      [1, 4],
      [2, 3],
      [4, 1],
    ]);
    expect(plan.peakReplicas).toBe(5);
  });

  it("counts the peak GPUs with each version's own GPUs per replica", () => {
    const weights = [25, 50, 100];
    const gpusPerReplica = { stable: 2, candidate: 2 };
    expect(planCapacity({ stableReplicas: 4, weights, mode: "surge", gpusPerReplica }).peakGpus).toBe(16);
    expect(planCapacity({ stableReplicas: 4, weights, mode: "constrained", gpusPerReplica }).peakGpus).toBe(
      10,
    );
    const bigger = { stable: 1, candidate: 2 };
    // Constrained at 100%: 4 candidate replicas of 2 GPUs beside the one stable replica kept warm.
    expect(
      planCapacity({ stableReplicas: 4, weights, mode: "constrained", gpusPerReplica: bigger }).peakGpus,
    ).toBe(9);
  });

  it("keeps a one-replica stable and a one-replica candidate side by side in either mode", () => {
    for (const mode of ["surge", "constrained"] as const) {
      const plan = planCapacity({ stableReplicas: 1, weights: [10, 100], mode });
      expect(plan.peakReplicas, mode).toBe(2);
      expect(plan.steps.at(-1)).toMatchObject({ candidateReplicas: 1, stableReplicas: 1 });
    }
  });

  it("refuses an input no manifest can produce, saying what is wrong", () => {
    expect(() => planCapacity({ stableReplicas: 0, weights: [50], mode: "surge" })).toThrow(
      /stableReplicas must be a whole number ≥ 1, found 0/,
    );
    expect(() => planCapacity({ stableReplicas: 2, weights: [50, 40], mode: "surge" })).toThrow(
      /weights\[1\] must rise above 50/,
    );
  });

  it("says the plan's mode and peak in a sentence", () => {
    const plan = planCapacity({
      stableReplicas: 4,
      weights: [25, 50, 100],
      mode: "constrained",
      gpusPerReplica: { stable: 2, candidate: 2 },
    });
    expect(describeCapacityPlan(plan)).toBe("constrained: at most 4 + 1 replica at once, 10 GPUs");
  });

  describe("for any stable size and rising weights", () => {
    const inputs = fc.record({
      stableReplicas: fc.integer({ min: 1, max: 40 }),
      weights: risingWeights,
      mode: modes,
    });

    it("never moves the weight past what the candidate's replicas carry, nor before they are scaled", () => {
      fc.assert(
        fc.property(inputs, (input) => {
          for (const moment of replay(planCapacity(input))) {
            if (moment.kind !== "setWeight") continue;
            // Whole-percent weights: the candidate carries at most the rounding (under 1%) beyond its share.
            expect(moment.weight).toBeLessThan((moment.candidate * 100) / input.stableReplicas + 1);
          }
        }),
      );
    });

    it("keeps the stable at least what its own share needs, and one replica warm until the promotion", () => {
      fc.assert(
        fc.property(inputs, (input) => {
          let weight = 0;
          for (const moment of replay(planCapacity(input))) {
            // Before the weight moves, the stable still serves the previous share.
            weight = moment.kind === "setWeight" ? moment.weight : weight;
            expect(moment.stable).toBeGreaterThanOrEqual(
              Math.max(1, stableReplicasNeededAt(input.stableReplicas, weight)),
            );
          }
        }),
      );
    });

    it("in constrained, never runs more than the stable's replicas + 1 at any moment", () => {
      fc.assert(
        fc.property(inputs, (input) => {
          const plan = planCapacity({ ...input, mode: "constrained" });
          for (const moment of replay(plan)) {
            expect(moment.candidate + moment.stable).toBeLessThanOrEqual(input.stableReplicas + 1);
          }
          expect(plan.peakReplicas).toBeLessThanOrEqual(input.stableReplicas + 1);
        }),
      );
    });

    it("ends every step with the candidate at its share and the weight at the step's", () => {
      fc.assert(
        fc.property(inputs, (input) => {
          const plan = planCapacity(input);
          let weight = 0;
          plan.steps.forEach((step, i) => {
            for (const move of step.moves) if (move.kind === "setWeight") weight = move.weight;
            expect(weight).toBe(input.weights[i]);
            expect(step.candidateReplicas).toBe(candidateReplicasAt(input.stableReplicas, step.weight));
          });
        }),
      );
    });

    it("in surge, peaks at the stable plus the candidate's largest size and never touches the stable", () => {
      fc.assert(
        fc.property(inputs, (input) => {
          const plan = planCapacity({ ...input, mode: "surge" });
          const last = input.weights.at(-1) ?? 0;
          expect(plan.peakReplicas).toBe(
            input.stableReplicas + candidateReplicasAt(input.stableReplicas, last),
          );
          expect(replay(plan).every((m) => m.stable === input.stableReplicas)).toBe(true);
        }),
      );
    });
  });
});
