import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../../lib/core/config/config";
import { type CheckedSuiteFile, MAX_EVAL_SHARDS } from "../../../lib/core/eval/eval-plan";
import { SANITY_SUITE } from "../../../lib/core/eval/sanity-suite";
import { loadManifest } from "../../../lib/core/resolution/manifest";
import type { ResolvedManifest } from "../../../lib/core/manifest/manifest-schema";
import { planRollout } from "../../../lib/core/rollout/plan";
import type { RolloutPlan } from "../../../lib/core/rollout/rollout";

function manifestFrom(yaml: string): ResolvedManifest {
  const { manifest, findings } = loadManifest(
    yaml,
    { name: "llama", version: "v3", fileName: "modelship.yaml" },
    DEFAULT_STACK_CONFIG,
  );
  if (!manifest) throw new Error(`the test manifest does not resolve: ${JSON.stringify(findings)}`);
  return manifest;
}

function file(name: string, items: number): CheckedSuiteFile {
  return { name, items, sha256: `sha-of-${name}` };
}

function shardsBySuite(plan: RolloutPlan): Record<string, string[]> {
  const by: Record<string, string[]> = {};
  for (const shard of plan.evalShards) (by[shard.suite.name] ??= []).push(`${shard.index}/${shard.of}`);
  return by;
}

const withShardSize = (evalShardSize: number): StackConfig => ({ ...DEFAULT_STACK_CONFIG, evalShardSize });

describe("The eval shards of a rollout plan", () => {
  it("always runs the built-in sanity suite, first, at the stack's default thresholds", () => {
    const plan = planRollout(
      manifestFrom("gates: {eval: {suites: [{name: mmlu, minScore: 0.45}]}}"),
      undefined,
      DEFAULT_STACK_CONFIG,
      0,
      [file("mmlu", 20)],
    );

    expect(plan.evalShards.map((s) => s.suite)).toEqual([
      { name: "sanity", minScore: 0, maxRegression: 0.02 },
      { name: "mmlu", minScore: 0.45, maxRegression: 0.02 },
    ]);
  });

  it("runs sanity with the thresholds the manifest gives it, where the manifest lists it", () => {
    const plan = planRollout(
      manifestFrom(
        "gates: {eval: {suites: [{name: mmlu}, {name: sanity, minScore: 0.8, maxRegression: 0.05}]}}",
      ),
      undefined,
      DEFAULT_STACK_CONFIG,
      0,
      [file("mmlu", 20)],
    );

    expect(plan.evalShards.map((s) => s.suite)).toEqual([
      { name: "mmlu", minScore: 0, maxRegression: 0.02 },
      { name: "sanity", minScore: 0.8, maxRegression: 0.05 },
    ]);
  });

  it("splits each suite into shards of at most evalShardSize items, numbered from 0", () => {
    const plan = planRollout(
      manifestFrom("gates: {eval: {suites: [{name: small}, {name: large}]}}"),
      undefined,
      withShardSize(50),
      0,
      [file("small", 50), file("large", 101)],
    );

    expect(shardsBySuite(plan)).toEqual({ sanity: ["0/1"], small: ["0/1"], large: ["0/3", "1/3", "2/3"] });
  });

  it("carries the SHA-256 of the file Prepare read with each shard of a suite file, and none for sanity", () => {
    const plan = planRollout(
      manifestFrom("gates: {eval: {suites: [{name: mmlu}]}}"),
      undefined,
      withShardSize(40),
      0,
      [file("mmlu", 50)],
    );

    expect(plan.evalShards.map((s) => [s.suite.name, s.sha256])).toEqual([
      ["sanity", undefined],
      ["mmlu", "sha-of-mmlu"],
      ["mmlu", "sha-of-mmlu"],
    ]);
  });

  it(`makes shards bigger rather than more than ${MAX_EVAL_SHARDS} of them, so the Map's results fit the state`, () => {
    const plan = planRollout(
      manifestFrom("gates: {eval: {suites: [{name: huge}, {name: mmlu}]}}"),
      undefined,
      withShardSize(10),
      0,
      [file("huge", 100_000), file("mmlu", 3_000)],
    );

    expect(plan.evalShards.length).toBeLessThanOrEqual(MAX_EVAL_SHARDS);
    expect(plan.evalShards.length).toBeGreaterThan(MAX_EVAL_SHARDS * 0.9);
    const of = shardsBySuite(plan);
    expect(of["sanity"]).toEqual(["0/1"]);
    expect(of["mmlu"]?.length).toBeGreaterThan(1);
  });

  it("plans no shards when the eval gate is off", () => {
    const plan = planRollout(
      manifestFrom("gates: {eval: {enabled: false, suites: [{name: mmlu}]}}"),
      undefined,
      DEFAULT_STACK_CONFIG,
    );

    expect(plan.gates.eval).toBe(false);
    expect(plan.evalShards).toEqual([]);
  });

  it("plans the sanity suite from its known size without any file", () => {
    const plan = planRollout(manifestFrom(""), undefined, withShardSize(10));

    expect(plan.evalShards).toHaveLength(Math.ceil(SANITY_SUITE.length / 10));
  });

  it("refuses to plan a suite file nobody read", () => {
    expect(() =>
      planRollout(manifestFrom("gates: {eval: {suites: [{name: mmlu}]}}"), undefined, DEFAULT_STACK_CONFIG),
    ).toThrow("Eval suite 'mmlu' cannot be planned before its file evals/mmlu.jsonl is read and checked.");
  });
});
