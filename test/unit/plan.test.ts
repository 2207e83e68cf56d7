import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import { parseManifest, resolveManifest } from "../../lib/core/resolution/manifest";
import type { ResolvedManifest } from "../../lib/core/manifest/manifest-schema";
import { planRollout } from "../../lib/core/rollout/plan";
import type { ModelRecord, RolloutPlan } from "../../lib/core/rollout/rollout";

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
      DEFAULT_STACK_CONFIG,
    );
    expect(plan).toMatchObject({ hasStable: true, stableVersion: "v2" });
    expect(plan.canarySteps).toEqual([
      { weight: 5, bakeSeconds: 30 },
      { weight: 50, bakeSeconds: 60 },
      { weight: 100, bakeSeconds: 30 },
    ]);
  });

  it("skips the canary for a first release", () => {
    const plan = planRollout(manifestFrom(""), undefined, DEFAULT_STACK_CONFIG);
    expect(plan.hasStable).toBe(false);
    expect(plan.stableVersion).toBeUndefined();
    expect(plan.canarySteps).toEqual([]);
  });

  it("treats a model whose earlier rollouts all failed as a first release", () => {
    const plan = planRollout(
      manifestFrom(""),
      { model: "llama", status: "failed", history: [] },
      DEFAULT_STACK_CONFIG,
    );
    expect(plan.hasStable).toBe(false);
  });

  it("runs the gates the manifest enables", () => {
    const plan = planRollout(
      manifestFrom("gates: {smoke: {enabled: false}, eval: {enabled: false}}"),
      servingV2,
      DEFAULT_STACK_CONFIG,
    );
    expect(plan.gates).toEqual({ smoke: false, stress: true, eval: false });
  });

  it("gives each stress worker its share of the load", () => {
    const plan = planRollout(manifestFrom("gates: {stress: {workers: 3}}"), servingV2, DEFAULT_STACK_CONFIG);
    expect(plan.stressWorkers).toEqual([
      { index: 0, of: 3 },
      { index: 1, of: 3 },
      { index: 2, of: 3 },
    ]);
    expect(
      planRollout(manifestFrom("gates: {stress: {enabled: false}}"), servingV2, DEFAULT_STACK_CONFIG)
        .stressWorkers,
    ).toEqual([]);
  });

  it("carries the watch window after promotion", () => {
    expect(
      planRollout(manifestFrom("rollout: {watchSeconds: 900}"), servingV2, DEFAULT_STACK_CONFIG).watchSeconds,
    ).toBe(900);
  });

  it("polls readiness as often as the stack says, within a budget that grows with the weights' size", () => {
    const manifest = manifestFrom("");
    const config = withServing({
      readinessPollSeconds: 10,
      startupBaseSeconds: 600,
      startupSecondsPerGiB: 20,
    });
    const small = planRollout(manifest, servingV2, config, 1 * GiB);
    const large = planRollout(manifest, servingV2, config, 140 * GiB);

    expect(small.readinessPollSeconds).toBe(10);
    expect(budget(small)).toBe(620);
    expect(budget(large)).toBe(600 + 140 * 20);
    expect(budget(planRollout(manifest, servingV2, config))).toBe(600);
  });

  it("polls a short-polling local runtime every second", () => {
    const config = withServing({ readinessPollSeconds: 1, startupBaseSeconds: 120, startupSecondsPerGiB: 0 });
    const plan = planRollout(manifestFrom(""), servingV2, config, 500_000);

    expect(plan).toMatchObject({ readinessPollSeconds: 1, maxReadinessChecks: 120 });
  });

  it("keeps the readiness loop inside Step Functions' history limit by polling less often, not by cutting the budget", () => {
    const config = withServing({
      readinessPollSeconds: 1,
      startupBaseSeconds: 600,
      startupSecondsPerGiB: 20,
    });
    const plan = planRollout(manifestFrom(""), servingV2, config, 1024 * GiB);

    expect(plan.maxReadinessChecks * 5).toBeLessThan(25_000);
    expect(budget(plan)).toBeGreaterThanOrEqual(600 + 1024 * 20);
    expect(
      planRollout(manifestFrom(""), servingV2, DEFAULT_STACK_CONFIG, Number.MAX_SAFE_INTEGER)
        .maxReadinessChecks * 5,
    ).toBeLessThan(25_000);
  });
});

function withServing(serving: Partial<StackConfig["serving"]>): StackConfig {
  return { ...DEFAULT_STACK_CONFIG, serving: { ...DEFAULT_STACK_CONFIG.serving, ...serving } };
}

function budget(plan: RolloutPlan): number {
  return plan.maxReadinessChecks * plan.readinessPollSeconds;
}
