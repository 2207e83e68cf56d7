import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decideReplicas, type Recommendation } from "../../lib/core/capacity/replica-recommendation";

const range = { minReplicas: 1, maxReplicas: 4, cooldownSeconds: 30 };

describe("decideReplicas", () => {
  it("asks for ceil(current × metric / target) replicas, as the HPA does", () => {
    const decision = decideReplicas({ ...range, current: 2, metric: 3, target: 2, now: 0, history: [] });
    expect(decision.replicas).toBe(3);
  });

  it("keeps the count while the metric is within 10% of its target", () => {
    expect(
      decideReplicas({ ...range, current: 2, metric: 1.09, target: 1, now: 0, history: [] }).replicas,
    ).toBe(2);
    expect(
      decideReplicas({ ...range, current: 2, metric: 0.91, target: 1, now: 0, history: [] }).replicas,
    ).toBe(2);
  });

  it("clamps to the range", () => {
    expect(
      decideReplicas({ ...range, current: 2, metric: 100, target: 1, now: 0, history: [] }).replicas,
    ).toBe(4);
    const idle = decideReplicas({ ...range, current: 3, metric: 0, target: 1, now: 0, history: [] });
    expect(idle.recommended).toBe(1);
    expect(idle.replicas).toBe(1);
  });

  it("scales down only once every recommendation of the cooldown is lower", () => {
    const history: Recommendation[] = [{ at: 0, replicas: 2 }];
    const inWindow = decideReplicas({ ...range, current: 2, metric: 0, target: 1, now: 29_000, history });
    expect(inWindow.replicas).toBe(2);
    const after = decideReplicas({ ...range, current: 2, metric: 0, target: 1, now: 31_000, history });
    expect(after.replicas).toBe(1);
    expect(after.history).toEqual([{ at: 31_000, replicas: 1 }]);
  });

  it("starts the minimum for a workload at zero replicas", () => {
    expect(decideReplicas({ ...range, current: 0, metric: 0, target: 1, now: 0, history: [] }).replicas).toBe(
      1,
    );
  });

  it("stays in the range, scales up at once and never below a recommendation of the window", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 8 }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.double({ min: 0.1, max: 10, noNaN: true }),
        fc.array(
          fc.record({ at: fc.integer({ min: 0, max: 60_000 }), replicas: fc.integer({ min: 1, max: 8 }) }),
        ),
        (minReplicas, extra, current, metric, target, history) => {
          const maxReplicas = minReplicas + extra;
          const now = 60_000;
          const input = {
            minReplicas,
            maxReplicas,
            cooldownSeconds: 30,
            current,
            metric,
            target,
            now,
            history,
          };
          const { replicas, recommended } = decideReplicas(input);
          expect(replicas).toBeGreaterThanOrEqual(Math.min(minReplicas, current));
          expect(replicas).toBeLessThanOrEqual(Math.max(maxReplicas, Math.min(current, maxReplicas)));
          if (recommended >= current) expect(replicas).toBe(recommended);
          const windowMax = Math.max(0, ...history.filter((r) => r.at > now - 30_000).map((r) => r.replicas));
          if (recommended < current) {
            expect(replicas).toBe(Math.min(current, maxReplicas, Math.max(recommended, windowMax)));
          }
        },
      ),
    );
  });
});
