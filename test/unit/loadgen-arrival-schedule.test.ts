import { describe, expect, it } from "vitest";
import { arrivalTimes, RunPlan } from "../../lib/loadgen/arrival-schedule";

function gaps(rate: number, burstiness: number, count: number, seed = 1): number[] {
  const times = arrivalTimes({ rate, burstiness, seed });
  const arrivals = Array.from({ length: count + 1 }, () => times.next().value);
  return arrivals.slice(1).map((t, i) => t - (arrivals[i] as number));
}

function meanAndCv(values: readonly number[]): { mean: number; cv: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
  return { mean, cv: Math.sqrt(variance) / mean };
}

describe("the open loop's arrival schedule", () => {
  // 20,000 gaps: the mean's standard error is CV/√n ≤ 1.5%, so 5% is over 3 standard errors for every case.
  it.each([
    { rate: 10, burstiness: 1, cv: 1 },
    { rate: 40, burstiness: 0.25, cv: 2 },
    { rate: 2.5, burstiness: 4, cv: 0.5 },
  ])(
    "at $rate req/s with burstiness $burstiness has mean gap 1/rate and coefficient of variation $cv",
    ({ rate, burstiness, cv }) => {
      const stats = meanAndCv(gaps(rate, burstiness, 20_000));
      expect(stats.mean / (1000 / rate)).toBeGreaterThan(0.95);
      expect(stats.mean / (1000 / rate)).toBeLessThan(1.05);
      expect(stats.cv / cv).toBeGreaterThan(0.9);
      expect(stats.cv / cv).toBeLessThan(1.1);
    },
  );

  it("spaces arrivals evenly when burstiness is Infinity", () => {
    const evenly = gaps(4, Infinity, 100);
    for (const gap of evenly) expect(gap).toBeCloseTo(250, 9);
  });

  it("starts at 0 and is the same for the same seed, different for another", () => {
    const first = arrivalTimes({ rate: 5, burstiness: 1, seed: 3 }).next().value;
    expect(first).toBe(0);
    expect(gaps(5, 1, 50, 3)).toEqual(gaps(5, 1, 50, 3));
    expect(gaps(5, 1, 50, 3)).not.toEqual(gaps(5, 1, 50, 4));
  });
});

describe("RunPlan", () => {
  it("marks requests scheduled in the warm-up, measures the rest, and stops at the end of the duration", () => {
    const plan = new RunPlan({ warmupSeconds: 2, durationSeconds: 10 });
    expect(plan.admit(0)).toBe("warmup");
    expect(plan.admit(1999)).toBe("warmup");
    expect(plan.admit(2000)).toBe("measured");
    expect(plan.admit(11_999)).toBe("measured");
    expect(plan.admit(12_000)).toBe("stop");
  });

  it("stops after the requested number of measured requests, warm-up ones not counted", () => {
    const plan = new RunPlan({ warmupSeconds: 1, requests: 2 });
    expect([0, 500, 1000, 1001, 1002].map((t) => plan.admit(t))).toEqual([
      "warmup",
      "warmup",
      "measured",
      "measured",
      "stop",
    ]);
  });

  it("once stopped, stays stopped", () => {
    const plan = new RunPlan({ warmupSeconds: 0, durationSeconds: 1 });
    expect(plan.admit(1000)).toBe("stop");
    expect(plan.admit(10)).toBe("stop");
  });

  it("ends at whichever bound comes first", () => {
    const plan = new RunPlan({ warmupSeconds: 0, durationSeconds: 1, requests: 100 });
    expect(plan.admit(500)).toBe("measured");
    expect(plan.admit(1000)).toBe("stop");
  });
});
