import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG, type HooksConfig, type StackConfig } from "../../lib/core/config/config";
import { formatFinding } from "../../lib/core/findings";
import { hooksByPoint, parseHookAnswer } from "../../lib/core/gates/hooks";
import { parseManifest, resolveManifest } from "../../lib/core/resolution/manifest";
import { planRollout } from "../../lib/core/rollout/plan";

const KEY = { name: "llama", version: "v3", fileName: "modelship.yaml" };

function withHooks(hooks: Partial<HooksConfig>): StackConfig {
  return { ...DEFAULT_STACK_CONFIG, hooks: { ...DEFAULT_STACK_CONFIG.hooks, ...hooks } };
}

const AWS_STACK = withHooks({
  functions: [
    { name: "regression-check", arn: "arn:aws:lambda:eu-west-1:123456789012:function:regression-check" },
  ],
  urlHooks: true,
});
const LOCAL_HOME = withHooks({
  functions: [{ name: "regression-check", command: ["node", "check.js"] }],
  urlHooks: true,
  loopbackHttp: true,
});

function resolveHooksYaml(yaml: string, config: StackConfig) {
  const parsed = parseManifest(yaml, KEY.fileName);
  if (!parsed.manifest) throw new Error(parsed.findings.map(formatFinding).join("\n"));
  return resolveManifest(parsed.manifest, KEY, config);
}

describe("gates.hooks", () => {
  it("resolves an allow-listed function hook and an HTTPS hook with their defaults", () => {
    const result = resolveHooksYaml(
      `gates:
  hooks:
    - {name: regression, at: preTraffic, lambda: regression-check}
    - {name: business-kpis, at: eachStep, url: "https://hooks.example.com/kpis", timeoutSeconds: 30, onFailure: ignore}
`,
      AWS_STACK,
    );
    expect(result.findings).toEqual([]);
    expect(result.manifest?.gates.hooks).toEqual([
      {
        name: "regression",
        at: "preTraffic",
        target: { kind: "function", name: "regression-check" },
        timeoutSeconds: 60,
        onFailure: "rollback",
      },
      {
        name: "business-kpis",
        at: "eachStep",
        target: { kind: "url", url: "https://hooks.example.com/kpis" },
        timeoutSeconds: 30,
        onFailure: "ignore",
      },
    ]);
  });

  it("refuses a function that is not on the stack's allow-list, naming the list", () => {
    const result = resolveHooksYaml(
      "gates:\n  hooks: [{name: sneaky, at: preTraffic, lambda: delete-everything}]\n",
      AWS_STACK,
    );
    expect(result.manifest).toBeUndefined();
    expect(result.findings).toEqual([
      expect.objectContaining({
        code: "manifest.hook-function-not-allowed",
        path: "gates.hooks[0].lambda",
        message: expect.stringContaining(
          "'delete-everything', which is not on the stack's allow-list (regression-check)",
        ),
      }),
    ]);
  });

  it("refuses every function hook on a stack that allows none", () => {
    const result = resolveHooksYaml(
      "gates:\n  hooks: [{name: regression, at: preTraffic, lambda: regression-check}]\n",
      DEFAULT_STACK_CONFIG,
    );
    expect(result.findings[0]?.message).toContain("allow-list (none)");
  });

  it("reports every problem at once: a duplicate name, no target, two targets, plain http", () => {
    const result = resolveHooksYaml(
      `gates:
  hooks:
    - {name: a, at: preTraffic}
    - {name: a, at: eachStep, lambda: regression-check, url: "https://x.example.com"}
    - {name: c, at: prePromote, url: "http://hooks.example.com/check"}
`,
      AWS_STACK,
    );
    expect(result.findings.map((f) => [f.code, f.path])).toEqual([
      ["manifest.hook-target", "gates.hooks[0]"],
      ["manifest.hook-duplicate", "gates.hooks[1].name"],
      ["manifest.hook-target", "gates.hooks[1]"],
      ["manifest.hook-url", "gates.hooks[2].url"],
    ]);
  });

  it("takes plain http to a loopback address only where the stack allows it (the local runtime)", () => {
    const yaml = 'gates:\n  hooks: [{name: local, at: postPromote, url: "http://127.0.0.1:8787/check"}]\n';
    expect(resolveHooksYaml(yaml, LOCAL_HOME).findings).toEqual([]);
    expect(resolveHooksYaml(yaml, AWS_STACK).findings[0]?.message).toContain("is not HTTPS");
    const remote = 'gates:\n  hooks: [{name: remote, at: postPromote, url: "http://10.0.0.8/check"}]\n';
    expect(resolveHooksYaml(remote, LOCAL_HOME).findings[0]?.message).toContain(
      "plain http only to 127.0.0.1, ::1 or localhost",
    );
  });

  it("refuses URL hooks on a stack with no key to sign them", () => {
    const result = resolveHooksYaml(
      'gates:\n  hooks: [{name: kpis, at: eachStep, url: "https://hooks.example.com"}]\n',
      withHooks({}),
    );
    expect(result.findings[0]?.message).toContain("no key to sign");
  });

  it("refuses credentials in a hook's URL", () => {
    const result = resolveHooksYaml(
      'gates:\n  hooks: [{name: kpis, at: eachStep, url: "https://me:pw@hooks.example.com"}]\n',
      AWS_STACK,
    );
    expect(result.findings[0]?.message).toContain("carries credentials");
  });

  it("refuses hooks at one point that together could outlast their task", () => {
    const result = resolveHooksYaml(
      `gates:
  hooks:
    - {name: a, at: prePromote, lambda: regression-check, timeoutSeconds: 600}
    - {name: b, at: prePromote, url: "https://x.example.com", timeoutSeconds: 300}
    - {name: c, at: eachStep, url: "https://x.example.com", timeoutSeconds: 600}
`,
      AWS_STACK,
    );
    expect(result.findings).toEqual([
      expect.objectContaining({
        code: "manifest.hook-time",
        message: expect.stringContaining("the hooks at prePromote (a, b) may take 900 s together"),
      }),
    ]);
  });

  it("refuses an eachStep hook with blue/green, which has no step to run it after, and keeps it with linear", () => {
    const yaml = (strategy: string) =>
      `gates:\n  hooks: [{name: regression, at: eachStep, lambda: regression-check}]\nrollout: {strategy: ${strategy}}\n`;
    const blueGreen = resolveHooksYaml(yaml("blueGreen"), AWS_STACK);
    expect(blueGreen.manifest).toBeUndefined();
    expect(blueGreen.findings).toEqual([
      expect.objectContaining({
        code: "manifest.hook-each-step-blue-green",
        path: "gates.hooks[0].at",
        message:
          "hook 'regression' runs at eachStep, after each canary step's bake, but strategy: blueGreen has no steps: all traffic moves at once, so it would never run.",
      }),
    ]);
    expect(resolveHooksYaml(yaml("linear"), AWS_STACK).manifest?.gates.hooks).toHaveLength(1);
  });

  it("plans the hook names by point, leaving out points without hooks", () => {
    const manifest = resolveHooksYaml(
      `gates:
  hooks:
    - {name: a, at: preTraffic, lambda: regression-check}
    - {name: b, at: preTraffic, url: "https://x.example.com"}
    - {name: c, at: postPromote, url: "https://y.example.com"}
`,
      AWS_STACK,
    ).manifest;
    if (!manifest) throw new Error("expected a manifest");
    expect(hooksByPoint(manifest.gates.hooks)).toEqual({ preTraffic: ["a", "b"], postPromote: ["c"] });
    expect(planRollout(manifest, undefined, AWS_STACK).hooks).toEqual({
      preTraffic: ["a", "b"],
      postPromote: ["c"],
    });
  });
});

describe("parseHookAnswer", () => {
  it("reads a verdict and its reason", () => {
    expect(parseHookAnswer('{"pass": false, "reason": "3 of 40 regression prompts changed"}')).toEqual({
      pass: false,
      reason: "3 of 40 regression prompts changed",
    });
    expect(parseHookAnswer('{"pass": true}')).toEqual({ pass: true, reason: "passed" });
  });

  it("fails an answer that is not a verdict, saying what came back", () => {
    expect(parseHookAnswer("OK")).toEqual({
      pass: false,
      reason: 'answered "OK", not JSON {"pass": true|false, "reason": "…"}',
    });
    expect(parseHookAnswer('{"pass": "yes"}').pass).toBe(false);
    expect(parseHookAnswer("[]").pass).toBe(false);
    expect(parseHookAnswer("").reason).toContain("answered nothing");
  });

  it("clips a long reason", () => {
    const verdict = parseHookAnswer(JSON.stringify({ pass: false, reason: "x".repeat(5000) }));
    expect(verdict.reason.length).toBe(500);
  });
});
