import { describe, expect, it } from "vitest";
import { type RetryPolicy, retryDelayMs } from "../../../lib/eval/backoff";

const policy: RetryPolicy = { attempts: 6, baseDelayMs: 1000, maxDelayMs: 10_000 };
const lowest = () => 0;
const highest = () => 0.999999;

describe("retryDelayMs", () => {
  it("doubles the pause after each failed attempt, jittered between half and all of the step", () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, policy, undefined, lowest))).toEqual([
      500, 1000, 2000, 4000,
    ]);
    expect(retryDelayMs(3, policy, undefined, highest)).toBeCloseTo(4000, 0);
  });

  it("never pauses longer than the cap", () => {
    expect(retryDelayMs(5, policy, undefined, highest)).toBeLessThanOrEqual(10_000);
    expect(retryDelayMs(30, policy, undefined, highest)).toBeLessThanOrEqual(10_000);
  });

  it("waits at least as long as the server's Retry-After, within the cap", () => {
    expect(retryDelayMs(1, policy, 3000, lowest)).toBe(3000);
    expect(retryDelayMs(1, policy, 120_000, lowest)).toBe(10_000);
    expect(retryDelayMs(4, policy, 100, lowest)).toBe(4000);
  });
});
