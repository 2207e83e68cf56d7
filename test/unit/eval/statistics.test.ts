import { describe, expect, it } from "vitest";
import { exactMcNemarPValue } from "../../../lib/core/eval/mcnemar";
import { wilsonInterval } from "../../../lib/core/eval/wilson-interval";

// Reference values: R `prop.test(x, n, correct = FALSE)$conf.int` and scipy
// `binomtest(x, n).proportion_ci(method="wilson")` for Wilson; R `binom.test(min(b, c), b + c)$p.value` and
// scipy `binomtest(b, b + c).pvalue` for the exact McNemar test.

describe("wilsonInterval", () => {
  it("matches the published interval for 81 of 263", () => {
    const { low, high } = wilsonInterval(81, 263);
    expect(low).toBeCloseTo(0.2552885, 6);
    expect(high).toBeCloseTo(0.3662096, 6);
  });

  it("stays inside [0, 1] at a perfect or a zero score, unlike p ± 1.96·SE", () => {
    const perfect = wilsonInterval(10, 10);
    expect(perfect.high).toBe(1);
    expect(perfect.low).toBeCloseTo(0.7224672, 6);
    const zero = wilsonInterval(0, 10);
    expect(zero.low).toBe(0);
    expect(zero.high).toBeCloseTo(0.2775328, 6);
  });

  it("narrows as the suite grows", () => {
    const small = wilsonInterval(8, 10);
    const large = wilsonInterval(800, 1000);
    expect(large.high - large.low).toBeLessThan((small.high - small.low) / 5);
    expect(large.low).toBeCloseTo(0.7741, 4);
    expect(large.high).toBeCloseTo(0.8236, 4);
  });

  it("is the whole range when nothing was measured", () => {
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 1 });
  });
});

describe("exactMcNemarPValue", () => {
  it.each([
    [1, 9, 0.021484375],
    [9, 1, 0.021484375],
    [3, 17, 0.0025768280029296875],
    [0, 5, 0.0625],
    [2, 8, 0.109375],
  ])("b=%i, c=%i gives p=%f", (b, c, p) => {
    expect(exactMcNemarPValue(b, c)).toBeCloseTo(p, 12);
  });

  it("is 1 when the discordant items split evenly, or there are none", () => {
    expect(exactMcNemarPValue(5, 5)).toBe(1);
    expect(exactMcNemarPValue(4, 5)).toBe(1);
    expect(exactMcNemarPValue(0, 0)).toBe(1);
  });

  it("stays finite and accurate for thousands of discordant items", () => {
    const p = exactMcNemarPValue(1000, 1400);
    expect(p / 3.262202836750829e-16).toBeCloseTo(1, 9);
    expect(exactMcNemarPValue(1500, 1510)).toBeGreaterThan(0.8);
    expect(exactMcNemarPValue(2500, 2500)).toBe(1);
  });
});
