import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import { type Finding, formatFinding } from "../../lib/core/findings";
import { loadManifest, parseManifest, resolveManifest } from "../../lib/core/resolution/manifest";
import type { ResolvedManifest } from "../../lib/core/manifest/manifest-schema";
import { chooseServing } from "../../lib/core/weights/serving-choice";

const KEY = { name: "llama", version: "v3", fileName: "modelship.yaml" };

function configWith(changes: Partial<StackConfig>): StackConfig {
  return { ...DEFAULT_STACK_CONFIG, ...changes };
}

function resolveYaml(
  yaml: string,
  config: StackConfig = DEFAULT_STACK_CONFIG,
): { manifest?: ResolvedManifest; findings: Finding[] } {
  const parsed = parseManifest(yaml, KEY.fileName);
  if (!parsed.manifest)
    throw new Error(`the test manifest does not parse:\n${parsed.findings.map(formatFinding).join("\n")}`);
  return resolveManifest(parsed.manifest, KEY, config);
}

function resolved(yaml: string, config?: StackConfig): ResolvedManifest {
  const result = resolveYaml(yaml, config);
  if (!result.manifest)
    throw new Error(`expected a resolved manifest:\n${result.findings.map(formatFinding).join("\n")}`);
  return result.manifest;
}

function findingAt(result: { findings: Finding[] }, path: string): Finding {
  const finding = result.findings.find((f) => f.path === path);
  if (!finding)
    throw new Error(`no finding at ${path}; found:\n${result.findings.map(formatFinding).join("\n")}`);
  return finding;
}

describe("resolveManifest", () => {
  describe("defaults", () => {
    it("fills an empty manifest entirely from the stack config, with the key's name and version", () => {
      const manifest = resolved("");
      const defaults = DEFAULT_STACK_CONFIG.defaults;
      expect(manifest).toMatchObject({ name: "llama", version: "v3", format: undefined, files: [] });
      // Runtime, image and context are left for Validate to choose from the weights (core/weights/serving-choice).
      expect(manifest.serving).toEqual({
        scaling: { kind: "fixed", replicas: 1 },
        gpus: defaults.serving.gpus,
        trustRemoteCode: defaults.serving.trustRemoteCode,
        extraArgs: [],
      });
      expect(manifest.gates.stress).toEqual(defaults.gates.stress);
      expect(manifest.rollout.steps).toEqual([
        { weight: 5, bakeSeconds: 600 },
        { weight: 25, bakeSeconds: 600 },
        { weight: 50, bakeSeconds: 600 },
        { weight: 100, bakeSeconds: 600 },
      ]);
      expect(manifest.rollout.alarms).toEqual(defaults.rollout.alarms);
    });

    it("gives a bare step the manifest's bake, and keeps a step's own", () => {
      const manifest = resolved(
        "rollout:\n  bakeSeconds: 120\n  steps: [10, {weight: 50, bakeSeconds: 1200}, 100]\n",
      );
      expect(manifest.rollout.steps).toEqual([
        { weight: 10, bakeSeconds: 120 },
        { weight: 50, bakeSeconds: 1200 },
        { weight: 100, bakeSeconds: 120 },
      ]);
    });

    it("ends the canary at 100% when the last step stops short of it", () => {
      expect(resolved("rollout: {steps: [10, 50]}").rollout.steps.map((s) => s.weight)).toEqual([
        10, 50, 100,
      ]);
    });

    it("merges the manifest's SLO and alarm settings over the stack's, field by field", () => {
      const manifest = resolved(
        "gates: {stress: {concurrency: 64, slo: {ttftP95Ms: 800}}}\nrollout: {alarms: {latencyP95Ms: 900, vsStable: {latencyP95Ratio: 1.5}}}",
      );
      expect(manifest.gates.stress).toMatchObject({
        concurrency: 64,
        workers: 4,
        slo: { errorRate: 0.01, ttftP95Ms: 800 },
      });
      expect(manifest.rollout.alarms).toMatchObject({
        latencyP95Ms: 900,
        errorRate: 0.02,
        vsStable: { latencyP95Ratio: 1.5, errorRateDelta: 0.01 },
      });
    });

    it("gives eval suites the stack's default minimum score and allowed regression", () => {
      const config = configWith({
        defaults: { ...DEFAULT_STACK_CONFIG.defaults, evalSuite: { minScore: 0.3, maxRegression: 0.05 } },
      });
      const manifest = resolved(
        "gates: {eval: {suites: [{name: gsm8k-sample}, {name: mmlu, minScore: 0.5}]}}",
        config,
      );
      expect(manifest.gates.eval.suites).toEqual([
        { name: "gsm8k-sample", minScore: 0.3, maxRegression: 0.05 },
        { name: "mmlu", minScore: 0.5, maxRegression: 0.05 },
      ]);
    });

    it("keeps the eval gate's cap on generated tokens only when the manifest sets one", () => {
      expect(resolved("gates: {eval: {maxTokens: 64}}").gates.eval.maxTokens).toBe(64);
      expect(resolved("name: llama").gates.eval).not.toHaveProperty("maxTokens");
      const parsed = parseManifest("gates: {eval: {maxTokens: 0}}", KEY.fileName);
      expect(parsed.findings.map((f) => f.path)).toEqual(["gates.eval.maxTokens"]);
    });

    it("takes the share of eval items that may go without an answer from the manifest, else the stack's default", () => {
      expect(resolved("gates: {eval: {maxErrorRate: 0.25}}").gates.eval.maxErrorRate).toBe(0.25);
      expect(resolved("name: llama").gates.eval.maxErrorRate).toBe(0.1);
      const config = configWith({
        defaults: {
          ...DEFAULT_STACK_CONFIG.defaults,
          gates: {
            ...DEFAULT_STACK_CONFIG.defaults.gates,
            eval: { enabled: true, suites: [], maxErrorRate: 0 },
          },
        },
      });
      expect(resolved("name: llama", config).gates.eval.maxErrorRate).toBe(0);
    });

    it("refuses a maxErrorRate that is not a share, and suggests the key for a misspelt one", () => {
      const parsed = parseManifest("gates: {eval: {maxErrorRate: 10}}", KEY.fileName);
      expect(parsed.findings.map((f) => [f.path, f.message])).toEqual([
        ["gates.eval.maxErrorRate", "expected a number ≤ 1, found 10."],
      ]);
      const typo = parseManifest("gates: {eval: {maxErrorRates: 0.2}}", KEY.fileName);
      expect(typo.findings.map((f) => f.hint)).toEqual([expect.stringContaining("maxErrorRate")]);
    });

    it("picks the first allowed llama.cpp image for a llama.cpp manifest that names none", () => {
      const config = configWith({
        allowedImages: {
          vllm: ["vllm/vllm-openai:v0.11.0"],
          "llama.cpp": ["ghcr.io/ggml-org/llama.cpp:server-b6000", "other"],
        },
      });
      const manifest = resolved("format: gguf\nserving: {runtime: llama.cpp}", config);
      expect(manifest.serving).toMatchObject({ runtime: "llama.cpp" });
      expect(manifest.serving.image).toBeUndefined();
      expect(chooseServing(manifest.serving, "gguf", 4096, config).image).toBe(
        "ghcr.io/ggml-org/llama.cpp:server-b6000",
      );
    });
  });

  describe("the key and the manifest agree", () => {
    it("refuses a name that differs from the key's, saying both", () => {
      const finding = findingAt(resolveYaml("name: mistral"), "name");
      expect(finding.message).toBe(
        "the manifest says name 'mistral', but it was uploaded under models/llama/v3/, which says 'llama'.",
      );
      expect(finding.file).toBe("modelship.yaml");
    });

    it("refuses a version that differs from the key's, saying both", () => {
      expect(findingAt(resolveYaml("version: v2"), "version").message).toContain("says version 'v2'");
      expect(findingAt(resolveYaml("version: v2"), "version").message).toContain("which says 'v3'");
    });

    it("accepts a name and version equal to the key's", () => {
      expect(resolveYaml("name: llama\nversion: v3").findings).toEqual([]);
    });
  });

  describe("canary steps", () => {
    it("refuses steps that do not rise strictly", () => {
      const result = resolveYaml("rollout: {steps: [5, 50, 25, 25]}");
      expect(result.findings.map((f) => f.path)).toEqual(["rollout.steps[2]", "rollout.steps[3]"]);
      expect(findingAt(result, "rollout.steps[2]").message).toBe(
        "canary step 25% comes after 50%: each step must send more traffic to the candidate than the one before.",
      );
    });
  });

  describe("rollout strategies", () => {
    it("keeps the canary's steps when no strategy is named", () => {
      const manifest = resolved("rollout: {steps: [10, 100], bakeSeconds: 60}");
      expect(manifest.rollout.strategy).toEqual({ kind: "canary" });
      expect(manifest.rollout.steps.map((s) => s.weight)).toEqual([10, 100]);
    });

    it("makes linear's steps from its step and interval, the last at 100%", () => {
      const manifest = resolved(
        "rollout: {strategy: linear, linear: {stepPercent: 30, intervalSeconds: 120}}",
      );
      expect(manifest.rollout.strategy).toEqual({ kind: "linear", stepPercent: 30, intervalSeconds: 120 });
      expect(manifest.rollout.steps).toEqual([
        { weight: 30, bakeSeconds: 120 },
        { weight: 60, bakeSeconds: 120 },
        { weight: 90, bakeSeconds: 120 },
        { weight: 100, bakeSeconds: 120 },
      ]);
    });

    it("gives linear 10% steps at the manifest's bake when it names only the strategy", () => {
      const manifest = resolved("rollout: {strategy: linear, bakeSeconds: 45}");
      expect(manifest.rollout.steps).toHaveLength(10);
      expect(manifest.rollout.steps[0]).toEqual({ weight: 10, bakeSeconds: 45 });
    });

    it("has no steps for blue/green: all traffic moves at once after the gates", () => {
      const manifest = resolved("rollout: {strategy: blueGreen}");
      expect(manifest.rollout.strategy).toEqual({ kind: "blueGreen" });
      expect(manifest.rollout.steps).toEqual([]);
    });

    it("refuses another strategy's settings instead of ignoring them, naming both", () => {
      const result = resolveYaml(
        "rollout: {strategy: blueGreen, steps: [10, 100], linear: {stepPercent: 5}}",
      );
      expect(result.manifest).toBeUndefined();
      expect(findingAt(result, "rollout.steps").message).toBe(
        "rollout.steps are the canary strategy's, but the manifest says strategy: blueGreen, which has no steps: all traffic moves at once.",
      );
      expect(findingAt(result, "rollout.linear").message).toBe(
        "rollout.linear sets the linear strategy's steps, but the manifest says strategy: blueGreen.",
      );
      expect(
        findingAt(resolveYaml("rollout: {linear: {stepPercent: 5}}"), "rollout.linear").message,
      ).toContain("strategy: canary (the default)");
    });

    it("refuses an unknown strategy, listing the three", () => {
      const parsed = parseManifest("rollout: {strategy: shadow}", KEY.fileName);
      expect(findingAt(parsed, "rollout.strategy").message).toMatch(/canary.*linear.*blueGreen/);
    });

    it("judges linear's interval once against the alarms' window, at the interval's path", () => {
      const result = resolveYaml(
        "rollout: {strategy: linear, linear: {stepPercent: 25, intervalSeconds: 10}, watchSeconds: 60}",
      );
      expect(result.findings.map((f) => f.path)).toEqual(["rollout.linear.intervalSeconds"]);
    });
  });

  describe("images and server flags come only from the stack's allow-lists", () => {
    it("refuses an image the stack does not allow, naming the allowed ones", () => {
      const finding = findingAt(resolveYaml("serving: {image: attacker/vllm:latest}"), "serving.image");
      expect(finding.message).toBe(
        "image 'attacker/vllm:latest' is not allowed for runtime vllm; allowed: 'vllm/vllm-openai:v0.11.0'.",
      );
    });

    it("refuses llama.cpp for safetensors weights", () => {
      const result = resolveYaml("format: safetensors\nserving: {runtime: llama.cpp}");
      expect(findingAt(result, "serving.runtime").code).toBe("manifest.runtime-format");
    });

    it("refuses a flag that is not on the allow-list, naming the allowed ones", () => {
      const finding = findingAt(
        resolveYaml('serving: {extraArgs: ["--enforce-eager", "--served-model-name=x"]}'),
        "serving.extraArgs[1]",
      );
      expect(finding.message).toMatch(
        /^flag '--served-model-name' is not on the stack's allow-list; allowed: --enable-prefix-caching, /,
      );
    });

    it("joins a value written as the next element to its flag", () => {
      const manifest = resolved(
        'serving: {extraArgs: ["--max-num-seqs", "64", "--dtype=bfloat16", "--enforce-eager"]}',
      );
      expect(manifest.serving.extraArgs).toEqual([
        "--max-num-seqs=64",
        "--dtype=bfloat16",
        "--enforce-eager",
      ]);
    });

    it("refuses a value that follows no flag, and short flags", () => {
      const result = resolveYaml('serving: {extraArgs: ["/etc/passwd", "--dtype=half", "x", "-q", "awq"]}');
      expect(result.findings.map((f) => [f.path, f.code])).toEqual([
        ["serving.extraArgs[0]", "manifest.extra-arg-stray-value"],
        ["serving.extraArgs[2]", "manifest.extra-arg-stray-value"],
        ["serving.extraArgs[3]", "manifest.extra-arg-not-allowed"],
        ["serving.extraArgs[4]", "manifest.extra-arg-stray-value"],
      ]);
    });

    it("refuses trust-remote-code, as a flag or a setting, unless the stack allows it", () => {
      const result = resolveYaml('serving: {trustRemoteCode: true, extraArgs: ["--trust-remote-code"]}');
      expect(result.findings.map((f) => [f.path, f.code])).toEqual([
        ["serving.extraArgs[0]", "manifest.trust-remote-code"],
        ["serving.trustRemoteCode", "manifest.trust-remote-code"],
      ]);
      expect(result.findings[0]?.message).toContain("runs Python code from the bucket on the cluster");
    });

    it("turns an allowed --trust-remote-code flag into the trustRemoteCode setting", () => {
      const manifest = resolved(
        'serving: {extraArgs: ["--trust-remote-code", "--enforce-eager"]}',
        configWith({ allowTrustRemoteCode: true }),
      );
      expect(manifest.serving).toMatchObject({ trustRemoteCode: true, extraArgs: ["--enforce-eager"] });
    });
  });

  describe("alarms", () => {
    it("accepts only periods CloudWatch accepts", () => {
      for (const period of [10, 20, 30, 60, 120]) {
        expect(resolveYaml(`rollout: {alarms: {periodSeconds: ${period}}}`).findings).toEqual([]);
      }
      const finding = findingAt(
        resolveYaml("rollout: {alarms: {periodSeconds: 45}}"),
        "rollout.alarms.periodSeconds",
      );
      expect(finding.message).toBe("expected 10, 20 or 30 (high resolution) or a multiple of 60, found 45.");
    });

    it("refuses more datapoints to alarm than evaluation periods, counting the stack's default", () => {
      const finding = findingAt(
        resolveYaml("rollout: {alarms: {datapointsToAlarm: 5}}"),
        "rollout.alarms.datapointsToAlarm",
      );
      expect(finding.message).toMatch(/^datapointsToAlarm 5 is more than evaluationPeriods 3/);
    });

    it("asks for both comparisons against stable when the stack sets none", () => {
      const alarms = { ...DEFAULT_STACK_CONFIG.defaults.rollout.alarms, vsStable: undefined };
      const config = configWith({
        defaults: {
          ...DEFAULT_STACK_CONFIG.defaults,
          rollout: { ...DEFAULT_STACK_CONFIG.defaults.rollout, alarms },
        },
      });
      expect(resolved("", config).rollout.alarms.vsStable).toBeUndefined();
      const result = resolveYaml("rollout: {alarms: {vsStable: {latencyP95Ratio: 1.3}}}", config);
      expect(findingAt(result, "rollout.alarms.vsStable.errorRateDelta").code).toBe(
        "manifest.vs-stable-incomplete",
      );
    });
  });

  describe("what each alarm watches", () => {
    it("gives every alarm the stack's source, auto by default, with the stack's minRequests", () => {
      expect(resolved("").rollout.alarms).toMatchObject({
        sources: { latencyP95Ms: "auto", errorRate: "auto", vsStable: "auto" },
        minRequests: 20,
        ttftP95Ms: undefined,
      });
    });

    it("takes one source for every alarm, and an alarm's own source over it", () => {
      const alarms = resolved(
        "rollout: {alarms: {source: traffic, latencyP95Ms: {threshold: 1500, source: both}}}",
      ).rollout.alarms;
      expect(alarms).toMatchObject({
        latencyP95Ms: 1500,
        sources: { latencyP95Ms: "both", errorRate: "traffic", vsStable: "traffic" },
      });
      expect(
        resolveYaml("rollout: {alarms: {source: traffic, minRequests: 50}}").findings.map((f) => f.code),
      ).toEqual(["manifest.min-requests-unused"]);
      expect(
        resolved(
          "rollout: {alarms: {errorRate: {threshold: 0.05, source: probe}, vsStable: {source: probe}}}",
        ).rollout.alarms,
      ).toMatchObject({
        errorRate: 0.05,
        vsStable: { latencyP95Ratio: 1.25, errorRateDelta: 0.01 },
        sources: { latencyP95Ms: "auto", errorRate: "probe", vsStable: "probe" },
      });
    });

    it("sets a TTFT alarm on real traffic, as a number or with source traffic", () => {
      expect(resolved("rollout: {alarms: {ttftP95Ms: 600}}").rollout.alarms.ttftP95Ms).toBe(600);
      expect(
        resolved("rollout: {alarms: {ttftP95Ms: {threshold: 600, source: traffic}}}").rollout.alarms
          .ttftP95Ms,
      ).toBe(600);
    });

    it("refuses a TTFT alarm on any other source: the prober cannot measure it", () => {
      const finding = findingAt(
        resolveYaml("rollout: {alarms: {ttftP95Ms: {threshold: 600, source: probe}}}"),
        "rollout.alarms.ttftP95Ms.source",
      );
      expect(finding.code).toBe("manifest.ttft-source");
      expect(finding.message).toMatch(/^ttftP95Ms watches real traffic only, found source 'probe'/);
      expect(finding.hint).toMatch(/Leave source out of ttftP95Ms/);
    });

    it("refuses minRequests when no alarm decides by it, naming each alarm's source", () => {
      const finding = findingAt(
        resolveYaml("rollout: {alarms: {source: probe, minRequests: 10}}"),
        "rollout.alarms.minRequests",
      );
      expect(finding.code).toBe("manifest.min-requests-unused");
      expect(finding.message).toBe(
        "minRequests 10 decides between real traffic and the prober for alarms with source 'auto', and no alarm has it (latencyP95Ms: probe, errorRate: probe, vsStable: probe).",
      );
    });

    it("refuses a shared source that every alarm overrides", () => {
      const finding = findingAt(
        resolveYaml(
          "rollout: {alarms: {source: traffic, latencyP95Ms: {threshold: 900, source: probe}, errorRate: {threshold: 0.1, source: probe}, vsStable: {source: both}}}",
        ),
        "rollout.alarms.source",
      );
      expect(finding.code).toBe("manifest.alarm-source-unused");
    });

    it("refuses an unknown source and an unknown key in an alarm's object, with the path", () => {
      const parsed = parseManifest(
        "rollout: {alarms: {source: metrics, latencyP95Ms: {threshold: 900, sauce: probe}}}",
        KEY.fileName,
      );
      expect(parsed.manifest).toBeUndefined();
      expect(parsed.findings.map((f) => f.path)).toEqual(
        expect.arrayContaining(["rollout.alarms.source", "rollout.alarms.latencyP95Ms.sauce"]),
      );
    });
  });

  describe("gates", () => {
    it("needs the rate of a stress test in rate mode", () => {
      expect(findingAt(resolveYaml("gates: {stress: {mode: rate}}"), "gates.stress.rate").message).toBe(
        "mode 'rate' needs 'rate': the requests per second to send.",
      );
      expect(resolved("gates: {stress: {mode: rate, rate: 8}}").gates.stress).toMatchObject({
        mode: "rate",
        rate: 8,
      });
    });

    it("refuses a stress test longer than a load worker runs, before any GPU is spent", () => {
      const result = resolveYaml("gates: {stress: {durationSeconds: 700, warmupSeconds: 30}}");
      expect(findingAt(result, "gates.stress.durationSeconds")).toMatchObject({
        message: "warmupSeconds 30 + durationSeconds 700 = 730 s is longer than a load worker runs (720 s).",
        hint: "Set durationSeconds to at most 690: more workers add load, not time.",
      });
      expect(
        resolved("gates: {stress: {durationSeconds: 10, warmupSeconds: 10}}").gates.stress,
      ).toMatchObject({
        durationSeconds: 10,
        warmupSeconds: 10,
      });
    });

    it("needs exactly one of messages or prompt in a smoke prompt", () => {
      const result = resolveYaml("gates: {smoke: {prompts: [{expectContains: hi}, {prompt: hi}]}}");
      expect(result.findings.map((f) => f.path)).toEqual(["gates.smoke.prompts[0]"]);
    });

    it("refuses an eval suite listed twice", () => {
      const result = resolveYaml("gates: {eval: {suites: [{name: mmlu}, {name: mmlu}]}}");
      expect(findingAt(result, "gates.eval.suites[1].name").message).toBe(
        "eval suite 'mmlu' is listed more than once.",
      );
    });
  });

  describe("files", () => {
    it("refuses paths that leave the model's folder or are absolute", () => {
      const result = resolveYaml(
        "files: [{path: ../other/model.safetensors, size: 1}, {path: /etc/passwd, size: 1}, {path: 'C:\\\\x', size: 1}, {path: a//b, size: 1}, {path: ok/model.safetensors, size: 1}]",
      );
      expect(result.findings.map((f) => f.path)).toEqual([
        "files[0].path",
        "files[1].path",
        "files[2].path",
        "files[3].path",
      ]);
      expect(result.findings[0]?.message).toBe(
        "expected a path relative to the model's folder, without '..', '.' or empty parts, found '../other/model.safetensors'.",
      );
    });

    it("refuses a file listed twice", () => {
      const result = resolveYaml("files: [{path: a.gguf, size: 1}, {path: a.gguf, size: 1}]");
      expect(findingAt(result, "files[1].path").code).toBe("manifest.file-duplicate");
    });
  });

  it("reports every semantic error at once, and resolves nothing when there is one", () => {
    const result = resolveYaml(
      [
        "name: mistral",
        "serving: {image: nope, extraArgs: [--nope]}",
        "rollout: {steps: [50, 5], alarms: {periodSeconds: 7}}",
        "files: [{path: ../x, size: 1}]",
      ].join("\n"),
    );
    expect(result.manifest).toBeUndefined();
    expect(result.findings.map((f) => f.path)).toEqual([
      "name",
      "files[0].path",
      "serving.image",
      "serving.extraArgs[0]",
      "rollout.steps[1]",
      "rollout.alarms.periodSeconds",
    ]);
  });
});

describe("loadManifest", () => {
  it("reports the semantic errors of a manifest the schema refused, together with the schema errors", () => {
    const result = loadManifest(
      "rollout: {bakeSecond: 60, steps: [50, 10]}\nserving: {image: evil/img:1, port: 80}\n",
      { name: "llama", version: "v1", fileName: "modelship.yaml" },
      DEFAULT_STACK_CONFIG,
    );
    expect(result.manifest).toBeUndefined();
    expect(result.findings.map((f) => [f.path, f.code])).toEqual([
      ["serving.port", "manifest.unknown-key"],
      ["rollout.bakeSecond", "manifest.unknown-key"],
      ["serving.image", expect.stringContaining("image")],
      ["rollout.steps[1]", expect.stringContaining("step")],
    ]);
  });

  it("never reports a value the schema refused a second time as a semantic error", () => {
    const result = loadManifest(
      "rollout: {steps: [50, -10]}\n",
      { name: "llama", version: "v1", fileName: "modelship.yaml" },
      DEFAULT_STACK_CONFIG,
    );
    expect(result.findings.filter((f) => f.path?.startsWith("rollout.steps"))).toHaveLength(1);
  });

  it("resolves a valid manifest", () => {
    const result = loadManifest(
      "rollout: {steps: [10, 100]}\n",
      { name: "llama", version: "v1", fileName: "modelship.yaml" },
      DEFAULT_STACK_CONFIG,
    );
    expect(result.findings).toEqual([]);
    expect(result.manifest?.rollout.steps.map((s) => s.weight)).toEqual([10, 100]);
  });
});

describe("Bakes the alarms can judge", () => {
  const atFactor = (timeFactor: number) =>
    configWith({ local: { ...DEFAULT_STACK_CONFIG.local, timeFactor } });
  const ROLLOUT = `rollout:
  steps: [25, {weight: 50, bakeSeconds: 60}, 100]
  bakeSeconds: 30
  watchSeconds: 60
  alarms: {periodSeconds: 10, datapointsToAlarm: 3, evaluationPeriods: 3}
`;

  it("takes bakes and a watch at least as long as the alarms need to reach ALARM, in real time", () => {
    expect(resolveYaml(ROLLOUT).findings).toEqual([]);
  });

  it("refuses each bake and the watch a time factor makes shorter than the alarms' window, saying what to set", () => {
    const result = resolveYaml(ROLLOUT, atFactor(0.1));
    expect(result.manifest).toBeUndefined();
    expect(result.findings.map((f) => [f.severity, f.path])).toEqual([
      ["error", "rollout.steps[0]"],
      ["error", "rollout.steps[1]"],
      ["error", "rollout.steps[2]"],
      ["error", "rollout.watchSeconds"],
    ]);
    const first = findingAt(result, "rollout.steps[0]");
    expect(first.message).toBe(
      "the bake of the 25% step lasts 30 s (3 s at a time factor of 0.1), shorter than the 30 s the alarms need to reach ALARM (3 breaching periods of 10 s): a bad version would pass it unjudged.",
    );
    expect(first.hint).toBe(
      "Bake for at least 300 s at this time factor, or shorten the alarms' window (rollout.alarms.periodSeconds, datapointsToAlarm), or set rollout.allowShortBakes: true to go on with a warning.",
    );
  });

  it("refuses a bake shorter than the alarms' window at real time too", () => {
    const result = resolveYaml(ROLLOUT.replace("bakeSeconds: 30", "bakeSeconds: 20"));
    expect(findingAt(result, "rollout.steps[0]").message).toContain("lasts 20 s, shorter than the 30 s");
  });

  it("goes on with warnings when the manifest allows short bakes", () => {
    const result = resolveYaml(`${ROLLOUT}  allowShortBakes: true\n`, atFactor(0.1));
    expect(result.manifest).toBeDefined();
    expect(result.findings.map((f) => f.severity)).toEqual(["warning", "warning", "warning", "warning"]);
  });

  it("says once, as a warning, that a time factor of 0 skips every bake", () => {
    const result = resolveYaml(ROLLOUT, atFactor(0));
    expect(result.manifest).toBeDefined();
    expect(result.findings).toMatchObject([
      { severity: "warning", path: "rollout", code: expect.stringMatching(/bakes-skipped$/) },
    ]);
  });
});
