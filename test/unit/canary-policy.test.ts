import { describe, expect, it } from "vitest";
import { appliedCanarySteps, canaryWeights, nextCanaryStep } from "../../lib/core/traffic/canary-policy";
import { capacityStep } from "../../lib/pipeline/canary-capacity";
import type { CanaryPosition, RolloutPlan } from "../../lib/core/rollout/rollout";

type Plan = Pick<RolloutPlan, "hasStable" | "canarySteps">;

const steps = (...weights: number[]) => weights.map((weight) => ({ weight, bakeSeconds: 600 }));
const canaryPlan: Plan = { hasStable: true, canarySteps: steps(5, 25, 50, 100) };

describe("canaryWeights", () => {
  it.each<[string, boolean, number, { stable: number; candidate: number }]>([
    ["a 5% step", true, 5, { stable: 95, candidate: 5 }],
    ["the last step", true, 100, { stable: 0, candidate: 100 }],
    ["a fractional step, without binary noise", true, 33.3, { stable: 66.7, candidate: 33.3 }],
    ["a weight above 100, held to 100", true, 120, { stable: 0, candidate: 100 }],
    ["a first release, whatever the step says", false, 5, { stable: 0, candidate: 100 }],
  ])("gives %s weights that add up to 100", (_title, hasStable, weight, expected) => {
    const weights = canaryWeights({ hasStable }, weight);
    expect(weights).toEqual(expected);
    expect(weights.stable + weights.candidate).toBeCloseTo(100, 9);
  });

  it("refuses a weight that is not a number", () => {
    expect(() => canaryWeights({ hasStable: true }, Number.NaN)).toThrow(
      "A canary weight must be a number from 0 to 100, got NaN.",
    );
  });
});

describe("nextCanaryStep", () => {
  const at = (step: number, weight: number): CanaryPosition => ({ step, steps: 4, weight });

  it.each<[string, Plan, CanaryPosition | undefined, ReturnType<typeof nextCanaryStep>]>([
    ["starts at the first step", canaryPlan, undefined, { step: 1, steps: 4, weight: 5, bakeSeconds: 600 }],
    [
      "moves to the step after the one applied",
      canaryPlan,
      at(2, 25),
      { step: 3, steps: 4, weight: 50, bakeSeconds: 600 },
    ],
    ["ends after the last step: promote", canaryPlan, at(4, 100), undefined],
    [
      "never starts at 0%",
      { hasStable: true, canarySteps: steps(0, 10, 100) },
      undefined,
      { step: 2, steps: 3, weight: 10, bakeSeconds: 600 },
    ],
    [
      "skips a step that would not move traffic forward",
      { hasStable: true, canarySteps: steps(10, 10, 50) },
      { step: 1, steps: 3, weight: 10 },
      { step: 3, steps: 3, weight: 50, bakeSeconds: 600 },
    ],
    [
      "keeps each step's own bake",
      { hasStable: true, canarySteps: [{ weight: 50, bakeSeconds: 1200 }] },
      undefined,
      { step: 1, steps: 1, weight: 50, bakeSeconds: 1200 },
    ],
    ["has no canary for a first release", { hasStable: false, canarySteps: [] }, undefined, undefined],
    [
      "has no canary for a first release even if steps are planned",
      { hasStable: false, canarySteps: steps(5) },
      undefined,
      undefined,
    ],
  ])("%s", (_title, plan, applied, expected) => {
    expect(nextCanaryStep(plan, applied)).toEqual(expected);
  });
});

describe("appliedCanarySteps", () => {
  it("keeps the steps that raise the candidate's weight, numbered as the manifest numbers them", () => {
    expect(
      appliedCanarySteps({ canarySteps: steps(0, 10, 10, 50, 30, 100) }).map((s) => [s.step, s.weight]),
    ).toEqual([
      [2, 10],
      [4, 50],
      [6, 100],
    ]);
  });

  it("holds a weight above 100 to 100 and ends there (the schema bounds steps to 100; a plan made elsewhere may not)", () => {
    const plan = { hasStable: true, canarySteps: steps(50, 100, 150) };
    expect(appliedCanarySteps(plan).map((s) => s.weight)).toEqual([50, 100]);
    expect(nextCanaryStep(plan, { step: 2, steps: 3, weight: 100 })).toBeUndefined();
  });

  it("is what both CanaryStep and the capacity plan walk: every step nextCanaryStep gives has a capacity step at its weight", () => {
    const capacity = { rolloutId: "r", mode: "constrained" as const, stableVersion: "v1", stableReplicas: 4 };
    for (const weights of [[5, 25, 50, 100], [0, 10, 100], [10, 10, 50], [50, 100, 150], [30]]) {
      const plan = { hasStable: true, canarySteps: steps(...weights) } as unknown as RolloutPlan;
      let applied: CanaryPosition | undefined;
      for (let next = nextCanaryStep(plan); next; next = nextCanaryStep(plan, applied)) {
        expect(capacityStep(capacity, plan, next.step).weight).toBe(next.weight);
        applied = next;
      }
    }
  });
});
