import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import type { SuiteLine } from "../../lib/core/eval/suite-item";
import { MAX_SUITE_BYTES } from "../../lib/pipeline/eval-suites";
import { prepare } from "../../lib/pipeline/prepare";
import { PREPARE_INPUT, PREPARE_PREFIX, prepareBench } from "../support/prepare-bench";

/** A suite file of `count` well-formed items. */
function suiteFile(count: number): string {
  return Array.from({ length: count }, (_, i) => {
    const line: SuiteLine = {
      id: `q${i}`,
      messages: [{ role: "user", content: `Question ${i}?` }],
      answer: "yes",
      scorer: "contains",
    };
    return JSON.stringify(line);
  }).join("\n");
}

describe("Prepare, for the eval gate", () => {
  const bench = prepareBench({ ...DEFAULT_STACK_CONFIG, evalShardSize: 50 });
  const { manifest, rejection } = bench;

  it("plans the shards of every suite file the manifest names, after the built-in sanity suite", async () => {
    const mmlu = suiteFile(120);
    await bench.objects.put("evals/mmlu-pro-sample.jsonl", mmlu);
    await manifest("gates: {eval: {suites: [{name: mmlu-pro-sample, minScore: 0.45}]}}");

    const { plan } = await prepare(PREPARE_INPUT, bench.deps);

    const sha256 = createHash("sha256").update(mmlu).digest("hex");
    expect(plan.evalShards).toEqual([
      { suite: { name: "sanity", minScore: 0, maxRegression: 0.02 }, index: 0, of: 1 },
      ...[0, 1, 2].map((index) => ({
        suite: { name: "mmlu-pro-sample", minScore: 0.45, maxRegression: 0.02 },
        index,
        of: 3,
        sha256,
      })),
    ]);
  });

  it("runs the sanity suite even when the manifest names no suite, and needs no file for it", async () => {
    await manifest("");

    const { plan } = await prepare(PREPARE_INPUT, bench.deps);

    expect(plan.evalShards.map((s) => s.suite.name)).toEqual(["sanity"]);
    expect(bench.objects.reads.map((r) => r.key)).not.toContain("evals/sanity.jsonl");
  });

  it("fails early when a suite file is missing, naming the file and how to fix it", async () => {
    await manifest("gates: {eval: {suites: [{name: mmlu-pro-sample}]}}");

    const error = await rejection();

    expect(error.reason).toBe(
      `The eval suite 'mmlu-pro-sample' of ${PREPARE_PREFIX}modelship.yaml cannot be run.`,
    );
    expect(error.findings).toEqual([
      {
        severity: "error",
        code: "eval-suite.missing",
        file: "evals/mmlu-pro-sample.jsonl",
        message:
          "eval suite 'mmlu-pro-sample' has no file: s3://memory-bucket/evals/mmlu-pro-sample.jsonl does not exist.",
        hint: "Upload the suite as evals/mmlu-pro-sample.jsonl (one JSON item per line; see docs/evals.md) before the manifest, or remove 'mmlu-pro-sample' from gates.eval.suites.",
      },
    ]);
  });

  it("reports every bad line of every suite at once, with its file, line and field", async () => {
    await bench.objects.put(
      "evals/mmlu.jsonl",
      [
        JSON.stringify({
          id: "q1",
          messages: [{ role: "user", content: "2+2?" }],
          answer: 4,
          scorer: "numeric",
        }),
        "{not json",
        JSON.stringify({ id: "q3", prompt: "Pick", choices: ["a", "b"], answer: 1, scorer: "choice" }),
      ].join("\n"),
    );
    await bench.objects.put(
      "evals/gsm8k.jsonl",
      JSON.stringify({ id: "g1", prompt: "1+1?", scorer: "numeric" }),
    );
    await manifest("gates: {eval: {suites: [{name: mmlu}, {name: gsm8k}, {name: absent}]}}");

    const error = await rejection();

    expect(error.reason).toBe(
      `The eval suites 'mmlu', 'gsm8k', 'absent' of ${PREPARE_PREFIX}modelship.yaml cannot be run.`,
    );
    expect(error.findings.map((f) => [f.file, f.path, f.code])).toEqual([
      ["evals/mmlu.jsonl", "line 2", "eval-suite.not-json"],
      ["evals/mmlu.jsonl", "line 3, answer", "eval-suite.invalid-answer"],
      ["evals/gsm8k.jsonl", "line 1, answer", "eval-suite.missing"],
      ["evals/absent.jsonl", undefined, "eval-suite.missing"],
    ]);
    expect(error.message).toContain('Write the letter, not the index: 0 → "A", 1 → "B", … (1 → "B").');
  });

  it("rejects the rollout before taking the lock, and tells the bus why", async () => {
    await manifest("gates: {eval: {suites: [{name: absent}]}}");

    await rejection();

    expect((await bench.store.get("llama"))?.lock).toBeUndefined();
    expect(
      bench.events.emitted.map((e) => [e.detailType, e.detail.error, e.detail.data?.["findings"]]),
    ).toEqual([
      [
        "Rollout Rejected",
        "ManifestInvalid",
        ["eval suite 'absent' has no file: s3://memory-bucket/evals/absent.jsonl does not exist."],
      ],
    ]);
  });

  it("refuses a suite file too large to be one, without reading it", async () => {
    await bench.objects.put("evals/dump.jsonl", new Uint8Array(MAX_SUITE_BYTES + 1));
    await manifest("gates: {eval: {suites: [{name: dump}]}}");

    const error = await rejection();

    expect(error.findings.map((f) => [f.file, f.code])).toEqual([
      ["evals/dump.jsonl", "eval-suite.too-large"],
    ]);
    expect(bench.objects.reads.map((r) => r.key)).not.toContain("evals/dump.jsonl");
  });

  it("reads no suite file when the eval gate is off", async () => {
    await manifest("gates: {eval: {enabled: false, suites: [{name: absent}]}}");

    const { plan } = await prepare(PREPARE_INPUT, bench.deps);

    expect(plan.evalShards).toEqual([]);
  });
});
