import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Finding, formatFinding } from "../../lib/core/findings";
import { parseManifest } from "../../lib/core/resolution/manifest";

/** The manifest of the design document (DESIGN §3), as a user would write it. */
const DESIGN_EXAMPLE_YAML = `
name: llama-3-8b-chat
version: v3
format: safetensors
files:
  - {path: model-00001-of-00004.safetensors, size: 4976698672}
serving:
  runtime: vllm
  image: vllm/vllm-openai:v0.11.0
  gpus: auto
  maxModelLen: 8192
  extraArgs: ["--enable-prefix-caching"]
gates:
  smoke: {prompts: [{messages: [{role: user, content: "Say hi"}], expectContains: "hi"}]}
  stress: {mode: concurrency, concurrency: 32, durationSeconds: 120, inputTokens: 512, outputTokens: 128,
           slo: {ttftP95Ms: 800, tpotP95Ms: 60, errorRate: 0.01, minOutputTokensPerSecond: 500}}
  eval: {suites: [{name: mmlu-pro-sample, minScore: 0.45, maxRegression: 0.02}]}
rollout:
  steps: [5, 25, {weight: 50, bakeSeconds: 1200}, 100]
  bakeSeconds: 600
  watchSeconds: 1800
  alarms:
    latencyP95Ms: 2000
    errorRate: 0.02
    vsStable: {latencyP95Ratio: 1.25, errorRateDelta: 0.01}
    periodSeconds: 10
    datapointsToAlarm: 3
    evaluationPeriods: 3
  approval: auto
`;

function errorsOf(result: { findings: Finding[] }): Finding[] {
  return result.findings.filter((f) => f.severity === "error");
}

function findingAt(result: { findings: Finding[] }, path: string): Finding {
  const finding = result.findings.find((f) => f.path === path);
  if (!finding) {
    throw new Error(`no finding at ${path}; found:\n${result.findings.map(formatFinding).join("\n")}`);
  }
  return finding;
}

describe("parseManifest", () => {
  describe("a valid manifest", () => {
    it("reads the design's example manifest without a finding", () => {
      const result = parseManifest(DESIGN_EXAMPLE_YAML, "modelship.yaml");
      expect(result.findings).toEqual([]);
      expect(result.manifest?.rollout?.steps).toEqual([5, 25, { weight: 50, bakeSeconds: 1200 }, 100]);
      expect(result.manifest?.serving?.extraArgs).toEqual(["--enable-prefix-caching"]);
    });

    it("reads the same settings from JSON as from YAML", () => {
      const fromYaml = parseManifest(DESIGN_EXAMPLE_YAML, "modelship.yaml").manifest;
      const fromJson = parseManifest(JSON.stringify(fromYaml, null, 2), "modelship.json");
      expect(fromJson.findings).toEqual([]);
      expect(fromJson.manifest).toEqual(fromYaml);
    });

    it("accepts .yml as YAML", () => {
      expect(parseManifest("format: gguf\n", "modelship.yml").manifest).toEqual({ format: "gguf" });
    });

    it("treats an empty manifest, or one with only comments, as all defaults", () => {
      expect(parseManifest("", "modelship.yaml")).toEqual({ manifest: {}, findings: [] });
      expect(parseManifest("# defaults are fine\n", "modelship.yaml")).toEqual({
        manifest: {},
        findings: [],
      });
      expect(parseManifest("  \n", "modelship.json")).toEqual({ manifest: {}, findings: [] });
    });

    it("ignores a UTF-8 byte order mark", () => {
      expect(parseManifest('\uFEFF{"format": "gguf"}', "modelship.json").manifest).toEqual({
        format: "gguf",
      });
    });
  });

  describe("unknown keys", () => {
    it("suggests 'bakeSeconds' for 'bakeSecond', with the path of the typo", () => {
      const result = parseManifest("rollout:\n  bakeSecond: 60\n", "modelship.yaml");
      const finding = findingAt(result, "rollout.bakeSecond");
      expect(finding).toMatchObject({
        severity: "error",
        code: "manifest.unknown-key",
        file: "modelship.yaml",
      });
      expect(finding.message).toContain("did you mean 'bakeSeconds'?");
      expect(finding.hint).toContain("steps, bakeSeconds, watchSeconds, alarms, approval");
      expect(result.manifest).toBeUndefined();
    });

    it("suggests the nearest key at the level of the typo, inside a list item too", () => {
      const result = parseManifest(
        "rollout:\n  steps: [5, {weight: 50, bakeSecnods: 60}]\n",
        "modelship.yaml",
      );
      expect(findingAt(result, "rollout.steps[1].bakeSecnods").message).toContain(
        "did you mean 'bakeSeconds'?",
      );
    });

    it("suggests a top-level key for a swapped letter", () => {
      const result = parseManifest("nmae: llama\n", "modelship.yaml");
      expect(findingAt(result, "nmae").message).toContain("did you mean 'name'?");
    });

    it("lists the known keys when nothing is close enough to guess", () => {
      const result = parseManifest("serving:\n  priority: 3\n", "modelship.yaml");
      const finding = findingAt(result, "serving.priority");
      expect(finding.message).not.toContain("did you mean");
      expect(finding.hint).toBe(
        "The keys known under serving are: runtime, image, gpus, maxModelLen, extraArgs, trustRemoteCode, replicas, autoscaling.",
      );
    });
  });

  describe("wrong values", () => {
    it("says what was expected and what was found, at the path", () => {
      const result = parseManifest("rollout:\n  steps: [5, 25, 0, 120]\n", "modelship.yaml");
      expect(findingAt(result, "rollout.steps[2]").message).toBe("expected a number > 0, found 0.");
      expect(findingAt(result, "rollout.steps[3]").message).toBe("expected a number ≤ 100, found 120.");
    });

    it("names the bad weight inside an object step", () => {
      const result = parseManifest("rollout:\n  steps: [{weight: 0, bakeSeconds: 60}]\n", "modelship.yaml");
      expect(findingAt(result, "rollout.steps[0].weight").message).toBe("expected a number > 0, found 0.");
    });

    it("refuses a fractional canary weight: gateways take whole percents", () => {
      const result = parseManifest("rollout:\n  steps: [33.3, {weight: 66.6}]\n", "modelship.yaml");
      expect(result.findings.map((f) => f.path)).toEqual(["rollout.steps[0]", "rollout.steps[1].weight"]);
      expect(findingAt(result, "rollout.steps[0]").message).toBe(
        "expected a whole number or a mapping, found 33.3.",
      );
    });

    it("lists the alternatives when a value fits none of them", () => {
      const result = parseManifest("serving: {gpus: many}\nrollout: {steps: [five]}\n", "modelship.yaml");
      expect(findingAt(result, "serving.gpus").message).toBe("expected 'auto' or a number, found 'many'.");
      expect(findingAt(result, "rollout.steps[0]").message).toBe(
        "expected a number or a mapping, found 'five'.",
      );
    });

    it("suggests the nearest allowed value for a misspelt choice", () => {
      const finding = findingAt(
        parseManifest("serving: {runtime: vlm}\n", "modelship.yaml"),
        "serving.runtime",
      );
      expect(finding.message).toBe("expected one of 'vllm', 'llama.cpp', found 'vlm'.");
      expect(finding.hint).toBe("Did you mean 'vllm'?");
    });

    it("says a required field of a list item is missing", () => {
      const result = parseManifest("files:\n  - {path: model.safetensors}\n", "modelship.yaml");
      expect(findingAt(result, "files[0].size").message).toBe("is required: expected a number.");
    });

    it("explains a pattern with words, not a regular expression alone", () => {
      const result = parseManifest("name: Llama_3\n", "modelship.yaml");
      expect(findingAt(result, "name").message).toBe(
        "expected a model name: lowercase letters, digits and '-', 1–63 characters, starting and ending with a letter or digit, found 'Llama_3'.",
      );
    });

    it("reports every error at once, not the first", () => {
      const result = parseManifest(
        [
          "rollout:",
          "  bakeSecond: 60",
          "  steps: [5, 0]",
          "serving: {runtime: vlm, maxModelLen: -1}",
          "gates: {stress: {workers: 100}}",
        ].join("\n"),
        "modelship.yaml",
      );
      expect(errorsOf(result).map((f) => f.path)).toEqual(
        expect.arrayContaining([
          "rollout.bakeSecond",
          "rollout.steps[1]",
          "serving.runtime",
          "serving.maxModelLen",
          "gates.stress.workers",
        ]),
      );
      expect(errorsOf(result)).toHaveLength(5);
    });
  });

  describe("syntax", () => {
    it("gives the line and column of a YAML syntax error", () => {
      const result = parseManifest("rollout:\n  steps: [5, 25\n", "modelship.yaml");
      expect(errorsOf(result)).toHaveLength(1);
      expect(errorsOf(result)[0]).toMatchObject({ code: "manifest.yaml-syntax", file: "modelship.yaml" });
      expect(errorsOf(result)[0]?.message).toMatch(/^YAML syntax error at line 3, column 1: /);
    });

    it("refuses a key repeated in a YAML mapping, and still checks the rest", () => {
      const result = parseManifest(
        "rollout:\n  bakeSeconds: 60\n  bakeSeconds: 6000\nserving: {gpus: 0}\n",
        "modelship.yaml",
      );
      expect(errorsOf(result).map((f) => f.message)).toEqual([
        "duplicate key 'bakeSeconds' at line 3, column 3: a key may appear only once in a mapping.",
        "expected a number > 0, found 0.",
      ]);
      expect(result.manifest).toBeUndefined();
    });

    it("refuses a key repeated in a JSON object, with its path and position", () => {
      const result = parseManifest(
        '{"rollout": {"bakeSeconds": 60,\n  "bakeSeconds": 6000}}',
        "modelship.json",
      );
      expect(findingAt(result, "rollout.bakeSeconds")).toMatchObject({
        code: "manifest.duplicate-key",
        message: "duplicate key 'bakeSeconds' at line 2, column 3: a key may appear only once in an object.",
      });
      expect(result.manifest).toBeUndefined();
    });

    it("does not mistake the same key in two different objects for a duplicate", () => {
      const text = JSON.stringify({ gates: { smoke: { enabled: true }, stress: { enabled: true } } });
      expect(parseManifest(text, "modelship.json").findings).toEqual([]);
    });

    it("says where JSON stops being JSON, quoting a few escaped bytes, not the rest of the file", () => {
      const result = parseManifest('{"rollout": root:x:0:0:root:/root:/bin/bash\u001b[2J}', "modelship.json");
      expect(errorsOf(result).map((f) => f.message)).toEqual([
        'JSON syntax error: expected a value at byte 12 (found "root:x:0:0:r…").',
      ]);
    });

    it("names the file of a JSON syntax error", () => {
      const result = parseManifest('{"rollout": ', "modelship.json");
      expect(errorsOf(result)).toEqual([
        expect.objectContaining({ code: "manifest.json-syntax", file: "modelship.json" }),
      ]);
    });

    it("refuses a YAML alias bomb instead of expanding it", () => {
      const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
      for (const [name, previous] of [
        ["b", "a"],
        ["c", "b"],
        ["d", "c"],
        ["e", "d"],
      ]) {
        lines.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(", ")}]`);
      }
      const result = parseManifest(lines.join("\n"), "modelship.yaml");
      expect(errorsOf(result)[0]?.message).toMatch(/^the YAML cannot be read: /);
    });

    describe("YAML beyond plain data", () => {
      it.each([
        ["!!binary", "serving: !!binary aGVsbG8=\n", "serving", 1],
        ["!!set", "gates: !!set {smoke, stress}\n", "gates", 1],
        ["!!omap", "rollout:\n  steps: !!omap [a: 1]\n", "rollout.steps", 2],
        ["!!timestamp", "version: !!timestamp 2001-12-14\n", "version", 1],
        ["!python/object:os.system", "name: !python/object:os.system echo\n", "name", 1],
        ["!<tag:yaml.org,2002:binary>", "name: !<tag:yaml.org,2002:binary> aGk=\n", "name", 1],
      ])("refuses the tag %s as a finding naming its line and path", (tag, text, path, line) => {
        const result = parseManifest(text, "modelship.yaml");
        expect(result.manifest).toBeUndefined();
        expect(errorsOf(result)).toEqual([
          expect.objectContaining({
            code: "manifest.yaml-tag",
            file: "modelship.yaml",
            path,
            message: expect.stringContaining(`on line ${line} asks for a value that is not plain YAML`),
          }),
        ]);
        expect(errorsOf(result)[0]?.message).toContain(
          `the tag ${tag.replace("!<tag:yaml.org,2002:binary>", "!!binary")} `,
        );
      });

      it("names every tagged value, in the order they are written, even deep in lists", () => {
        const text = "gates:\n  smoke:\n    prompts:\n      - !!binary aGk=\n      - {messages: !foo []}\n";
        const result = parseManifest(text, "modelship.yaml");
        expect(errorsOf(result).map((f) => [f.path, f.message.split(" asks")[0]])).toEqual([
          ["gates.smoke.prompts[0]", "the tag !!binary on line 4"],
          ["gates.smoke.prompts[1].messages", "the tag !foo on line 5"],
        ]);
      });

      it("accepts the core schema's own tags, which only restate plain values", () => {
        const result = parseManifest(
          "name: !!str llama\nserving:\n  maxModelLen: !!int 4096\n",
          "modelship.yaml",
        );
        expect(result.findings).toEqual([]);
        expect(result.manifest).toMatchObject({ name: "llama", serving: { maxModelLen: 4096 } });
      });

      it("lists 50 of 5,000 unknown keys one by one and counts the rest, rather than 5,000 findings", () => {
        const text = Array.from({ length: 5000 }, (_, i) => `key${i}: 1`).join("\n");
        const findings = parseManifest(text, "modelship.yaml").findings;
        expect(findings).toHaveLength(51);
        expect(findings.at(-1)?.message).toMatch(
          /^4950 more findings like the ones above \(manifest\.unknown-key\)/,
        );
      });

      it("refuses a %YAML 1.1 directive, under which yes, n and dates are not text", () => {
        const result = parseManifest("%YAML 1.1\n---\nversion: 2001-12-14\n", "modelship.yaml");
        expect(errorsOf(result)).toEqual([expect.objectContaining({ code: "manifest.yaml-version" })]);
      });
    });

    it("expects a mapping at the top level", () => {
      const result = parseManifest("- 5\n- 25\n", "modelship.yaml");
      expect(errorsOf(result)[0]?.message).toBe(
        "expected a mapping of settings (name, serving, gates, rollout …) at the top level, found a list of 2 items.",
      );
    });

    it("refuses a file that is neither YAML nor JSON by its name", () => {
      const result = parseManifest("format: gguf", "modelship.toml");
      expect(errorsOf(result)[0]?.code).toBe("manifest.file-type");
    });
  });

  describe("malformed input", () => {
    it("answers any text with findings and never throws", () => {
      fc.assert(
        fc.property(fc.string({ unit: "binary", maxLength: 300 }), fc.boolean(), (text, json) => {
          const result = parseManifest(text, json ? "modelship.json" : "modelship.yaml");
          expect(Array.isArray(result.findings)).toBe(true);
          if (result.manifest === undefined) expect(errorsOf(result).length).toBeGreaterThan(0);
        }),
        { numRuns: 400 },
      );
    });

    it("answers any cut or spliced version of a real manifest with findings and never throws", () => {
      fc.assert(
        fc.property(
          fc.nat(DESIGN_EXAMPLE_YAML.length),
          fc.nat(DESIGN_EXAMPLE_YAML.length),
          fc.string({ maxLength: 8 }),
          (start, end, insert) => {
            const text = DESIGN_EXAMPLE_YAML.slice(0, start) + insert + DESIGN_EXAMPLE_YAML.slice(end);
            expect(() => parseManifest(text, "modelship.yaml")).not.toThrow();
          },
        ),
        { numRuns: 300 },
      );
    });

    it("answers deeply nested input with findings", () => {
      const depth = 50_000;
      const json = `{"files": ${"[".repeat(depth)}${"]".repeat(depth)}}`;
      expect(errorsOf(parseManifest(json, "modelship.json")).length).toBeGreaterThan(0);
      const yaml = `files: ${"[".repeat(depth)}${"]".repeat(depth)}`;
      expect(errorsOf(parseManifest(yaml, "modelship.yaml")).length).toBeGreaterThan(0);
    });
  });
});
