import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import { type Finding, formatFinding } from "../../lib/core/findings";
import { resolveStackConfig } from "../../lib/core/resolution/stack-config";

const SOURCE = ".modelship/config.json";

function configFrom(partial: unknown): StackConfig {
  const result = resolveStackConfig(partial, SOURCE);
  if (!result.config) throw new Error(`expected a config:\n${result.findings.map(formatFinding).join("\n")}`);
  return result.config;
}

function findingAt(partial: unknown, path: string): Finding {
  const result = resolveStackConfig(partial, SOURCE);
  expect(result.config).toBeUndefined();
  const finding = result.findings.find((f) => f.path === path);
  if (!finding)
    throw new Error(`no finding at ${path}; found:\n${result.findings.map(formatFinding).join("\n")}`);
  return finding;
}

describe("resolveStackConfig", () => {
  it("is the default config when nothing is given", () => {
    expect(resolveStackConfig(undefined)).toEqual({ config: DEFAULT_STACK_CONFIG, findings: [] });
    expect(resolveStackConfig({})).toEqual({ config: DEFAULT_STACK_CONFIG, findings: [] });
  });

  it("merges a partial config into the defaults, mapping by mapping", () => {
    const config = configFrom({
      clusterName: "gpu-prod",
      gpu: { memoryGiB: 24, nodeSelector: { pool: "l4" } },
    });
    expect(config.clusterName).toBe("gpu-prod");
    expect(config.gpu).toEqual({ ...DEFAULT_STACK_CONFIG.gpu, memoryGiB: 24, nodeSelector: { pool: "l4" } });
    expect(config.defaults).toEqual(DEFAULT_STACK_CONFIG.defaults);
  });

  it("replaces lists instead of appending to them", () => {
    expect(configFrom({ allowedExtraArgs: ["--enforce-eager"] }).allowedExtraArgs).toEqual([
      "--enforce-eager",
    ]);
  });

  it("makes the first allowed image of the default runtime the default image", () => {
    const config = configFrom({ allowedImages: { vllm: ["registry.example.com/vllm:0.11.0"] } });
    expect(config.defaults.serving.image).toBe("registry.example.com/vllm:0.11.0");
    expect(config.allowedImages["llama.cpp"]).toEqual(DEFAULT_STACK_CONFIG.allowedImages["llama.cpp"]);
  });

  it("removes a default set to null", () => {
    const config = configFrom({ defaults: { rollout: { alarms: { vsStable: null } } } });
    expect(config.defaults.rollout.alarms.vsStable).toBeUndefined();
    expect(config.defaults.rollout.alarms.latencyP95Ms).toBe(
      DEFAULT_STACK_CONFIG.defaults.rollout.alarms.latencyP95Ms,
    );
  });

  it("leaves the built-in defaults untouched", () => {
    const before = structuredClone(DEFAULT_STACK_CONFIG);
    configFrom({ allowedImages: { vllm: ["mine/vllm:1"] }, gpu: { memoryGiB: 24 } });
    expect(DEFAULT_STACK_CONFIG).toEqual(before);
  });

  describe("errors", () => {
    it("suggests the nearest key for a typo, at any depth, naming the source", () => {
      const top = findingAt({ clusterNmae: "prod" }, "clusterNmae");
      expect(top).toMatchObject({ code: "stack-config.unknown-key", file: SOURCE });
      expect(top.message).toBe("unknown key 'clusterNmae': did you mean 'clusterName'?");
      expect(findingAt({ gpu: { memoryGb: 24 } }, "gpu.memoryGb").message).toContain(
        "did you mean 'memoryGiB'?",
      );
      expect(
        findingAt({ defaults: { rollout: { bakeSecond: 60 } } }, "defaults.rollout.bakeSecond").message,
      ).toContain("did you mean 'bakeSeconds'?");
    });

    it("says what was expected and what was found", () => {
      expect(findingAt({ gpu: { utilization: 1.5 } }, "gpu.utilization").message).toBe(
        "expected a number ≤ 1, found 1.5.",
      );
      expect(findingAt({ allowTrustRemoteCode: "yes" }, "allowTrustRemoteCode").message).toBe(
        "expected true or false, found 'yes'.",
      );
      expect(findingAt({ namespace: "Models" }, "namespace").message).toContain("a Kubernetes name");
      expect(findingAt({ allowedExtraArgs: ["enforce-eager"] }, "allowedExtraArgs[0]").message).toBe(
        "expected a long flag like --enforce-eager, found 'enforce-eager'.",
      );
    });

    it("refuses defaults the stack itself would refuse in a manifest", () => {
      const partial = {
        defaults: {
          serving: { image: "unlisted/vllm:1", extraArgs: ["--nope"] },
          rollout: { steps: [50, 10], alarms: { periodSeconds: 45 } },
        },
      };
      const result = resolveStackConfig(partial, SOURCE);
      expect(result.config).toBeUndefined();
      expect(result.findings.map((f) => f.path)).toEqual([
        "defaults.serving.image",
        "defaults.serving.extraArgs[0]",
        "defaults.rollout.steps[1]",
        "defaults.rollout.alarms.periodSeconds",
      ]);
    });

    it("reports every error at once", () => {
      const result = resolveStackConfig(
        { clusterNmae: "x", gpu: { maxPerNode: 0 }, evalShardSize: "50" },
        SOURCE,
      );
      expect(result.findings.map((f) => f.path).sort()).toEqual([
        "clusterNmae",
        "evalShardSize",
        "gpu.maxPerNode",
      ]);
    });

    it("expects a mapping", () => {
      expect(resolveStackConfig(["vllm"], SOURCE).findings[0]?.message).toBe(
        "expected a mapping of settings (clusterName, namespace, allowedImages …), found a list of 1 item.",
      );
    });

    it("reports a __proto__ key as unknown rather than letting it change anything", () => {
      const partial: unknown = JSON.parse('{"__proto__": {"allowTrustRemoteCode": true}}');
      const result = resolveStackConfig(partial, SOURCE);
      expect(result.findings.map((f) => [f.path, f.code])).toEqual([
        ["__proto__", "stack-config.unknown-key"],
      ]);
      expect(({} as { allowTrustRemoteCode?: boolean }).allowTrustRemoteCode).toBeUndefined();
    });
  });

  describe("a Prometheus for real traffic", () => {
    const queries = {
      requests: 'sum(increase(vllm:request_success_total{model_name="{{model}}-{{version}}"}[{{window}}]))',
      latencyP95Seconds:
        'histogram_quantile(0.95, sum by (le) (increase(vllm:e2e_request_latency_seconds_bucket{model_name="{{model}}-{{version}}"}[{{window}}])))',
    };

    it("takes an AMP workspace, an in-cluster service or a URL, with a query per metric", () => {
      for (const endpoint of [
        { kind: "amp", workspaceId: "ws-8f0a6e2b-1c3d-4e5f-9a8b-7c6d5e4f3a2b", region: "eu-west-1" },
        { kind: "service", namespace: "monitoring", service: "prometheus-server", port: 9090 },
        { kind: "url", url: "http://127.0.0.1:9090" },
      ]) {
        const config = configFrom({ canaryMetrics: { prometheus: { endpoint, queries } } });
        expect(config.canaryMetrics.prometheus).toEqual({ endpoint, queries });
      }
      expect(DEFAULT_STACK_CONFIG.canaryMetrics.prometheus).toBeUndefined();
    });

    it("refuses a query whose placeholders could change its meaning, naming the metric", () => {
      const finding = findingAt(
        {
          canaryMetrics: {
            prometheus: {
              endpoint: { kind: "url", url: "http://127.0.0.1:9090" },
              queries: { ...queries, errors: "sum(increase(errors{model={{model}}}[{{window}}]))" },
            },
          },
        },
        "canaryMetrics.prometheus.queries.errors",
      );
      expect(finding.code).toBe("stack-config.promql-template");
      expect(finding.message).toMatch(/^\{\{model\}\} must be inside a quoted label value/);
    });

    it("refuses an unknown kind of endpoint and a query for a metric it does not know", () => {
      const result = resolveStackConfig(
        {
          canaryMetrics: {
            prometheus: { endpoint: { kind: "thanos" }, queries: { ...queries, tokens: "sum(x)" } },
          },
        },
        SOURCE,
      );
      expect(result.config).toBeUndefined();
      expect(result.findings.map((f) => f.path).sort()).toEqual([
        "canaryMetrics.prometheus.endpoint.kind",
        "canaryMetrics.prometheus.queries.tokens",
      ]);
    });
  });
});
