import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config";
import { parseManifest, resolveManifest } from "../../lib/core/manifest";
import type { ResolvedManifest } from "../../lib/core/manifest-schema";
import { planRollout } from "../../lib/core/plan";
import type { ModelRecord } from "../../lib/core/rollout";

function manifestFrom(yaml: string): ResolvedManifest {
  const parsed = parseManifest(yaml, "modelship.yaml");
  const manifest =
    parsed.manifest &&
    resolveManifest(parsed.manifest, { name: "llama", version: "v3" }, DEFAULT_STACK_CONFIG).manifest;
  if (!manifest) throw new Error("the test manifest does not resolve");
  return manifest;
}

const servingV2: ModelRecord = { model: "llama", stableVersion: "v2", status: "promoted", history: [] };
const GiB = 1024 ** 3;

describe("planRollout", () => {
  it("walks the canary steps against the stable version when one serves", () => {
    const plan = planRollout(
      manifestFrom("rollout: {steps: [5, {weight: 50, bakeSeconds: 60}], bakeSeconds: 30}"),
      servingV2,
    );
    expect(plan).toMatchObject({ hasStable: true, stableVersion: "v2" });
    expect(plan.canarySteps).toEqual([
      { weight: 5, bakeSeconds: 30 },
      { weight: 50, bakeSeconds: 60 },
      { weight: 100, bakeSeconds: 30 },
    ]);
  });

  it("skips the canary for a first release", () => {
    const plan = planRollout(manifestFrom(""), undefined);
    expect(plan.hasStable).toBe(false);
    expect(plan.stableVersion).toBeUndefined();
    expect(plan.canarySteps).toEqual([]);
  });

  it("treats a model whose earlier rollouts all failed as a first release", () => {
    const plan = planRollout(manifestFrom(""), { model: "llama", status: "failed", history: [] });
    expect(plan.hasStable).toBe(false);
  });

  it("runs the gates the manifest enables", () => {
    const plan = planRollout(
      manifestFrom("gates: {smoke: {enabled: false}, eval: {enabled: false}}"),
      servingV2,
    );
    expect(plan.gates).toEqual({ smoke: false, stress: true, eval: false });
  });

  it("gives each stress worker its share of the load", () => {
    const plan = planRollout(manifestFrom("gates: {stress: {workers: 3}}"), servingV2);
    expect(plan.stressWorkers).toEqual([
      { index: 0, of: 3 },
      { index: 1, of: 3 },
      { index: 2, of: 3 },
    ]);
    expect(planRollout(manifestFrom("gates: {stress: {enabled: false}}"), servingV2).stressWorkers).toEqual(
      [],
    );
  });

  it("carries the watch window after promotion", () => {
    expect(planRollout(manifestFrom("rollout: {watchSeconds: 900}"), servingV2).watchSeconds).toBe(900);
  });

  it("bounds the readiness polls by a startup budget that grows with the weights' size", () => {
    const manifest = manifestFrom("");
    const small = planRollout(manifest, servingV2, 1 * GiB);
    const large = planRollout(manifest, servingV2, 140 * GiB);
    const budget = (p: typeof small) => p.maxReadinessChecks * p.readinessPollSeconds;
    expect(small.readinessPollSeconds).toBeGreaterThan(0);
    expect(budget(small)).toBeGreaterThanOrEqual(10 * 60);
    expect(budget(large)).toBeGreaterThan(budget(small));
    expect(budget(planRollout(manifest, servingV2))).toBeLessThanOrEqual(budget(small));
  });

  it("keeps the readiness loop bounded for any size, inside Step Functions' history limit", () => {
    const plan = planRollout(manifestFrom(""), servingV2, Number.MAX_SAFE_INTEGER);
    expect(plan.maxReadinessChecks * 5).toBeLessThan(25_000);
  });
});
