import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import { loadManifest } from "../../lib/core/resolution/manifest";

const KEY = { name: "llama", version: "v3", fileName: "modelship.yaml" };
const LOCAL: StackConfig = {
  ...DEFAULT_STACK_CONFIG,
  local: { ...DEFAULT_STACK_CONFIG.local, timeFactor: 1 },
};

function load(text: string, config: StackConfig = DEFAULT_STACK_CONFIG) {
  return loadManifest(text, KEY, config);
}

describe("serving.replicas and serving.autoscaling", () => {
  it("serves one replica when the manifest says nothing", () => {
    expect(load("").manifest?.serving.scaling).toEqual({ kind: "fixed", replicas: 1 });
  });

  it("keeps a fixed replica count", () => {
    expect(load("serving: {replicas: 4}").manifest?.serving.scaling).toEqual({ kind: "fixed", replicas: 4 });
  });

  it("keeps an autoscaler's range, metric and target, with the HPA's 300 s cooldown by default", () => {
    const text = "serving:\n  autoscaling: {minReplicas: 2, maxReplicas: 8, metric: queueDepth, target: 4}\n";
    expect(load(text).manifest?.serving.scaling).toEqual({
      kind: "autoscaling",
      minReplicas: 2,
      maxReplicas: 8,
      metric: "queueDepth",
      target: 4,
      cooldownSeconds: 300,
    });
    const withCooldown = load(
      "serving:\n  autoscaling: {minReplicas: 1, maxReplicas: 2, metric: kvCacheUsage, target: 0.7, cooldownSeconds: 60}\n",
    );
    expect(withCooldown.manifest?.serving.scaling).toMatchObject({
      metric: "kvCacheUsage",
      cooldownSeconds: 60,
    });
  });

  it("refuses scale-to-zero, saying a cold start would be the users' outage", () => {
    const { manifest, findings } = load(
      "serving:\n  autoscaling: {minReplicas: 0, maxReplicas: 4, metric: inFlight, target: 8}\n",
    );
    expect(manifest).toBeUndefined();
    expect(findings).toEqual([
      expect.objectContaining({
        code: "manifest.scale-to-zero",
        path: "serving.autoscaling.minReplicas",
        file: "modelship.yaml",
        message: expect.stringContaining("cold start"),
      }),
    ]);
  });

  it("refuses replicas beside autoscaling: the autoscaler would overwrite the count", () => {
    const { manifest, findings } = load(
      "serving:\n  replicas: 3\n  autoscaling: {minReplicas: 1, maxReplicas: 4, metric: inFlight, target: 8}\n",
    );
    expect(manifest).toBeUndefined();
    expect(findings).toEqual([
      expect.objectContaining({ code: "manifest.replicas-and-autoscaling", path: "serving.replicas" }),
    ]);
  });

  it("reports every problem of an autoscaler at once: range upside down and a KV-cache share over 1", () => {
    const { findings } = load(
      "serving:\n  autoscaling: {minReplicas: 5, maxReplicas: 2, metric: kvCacheUsage, target: 70}\n",
    );
    expect(findings.map((f) => f.path)).toEqual([
      "serving.autoscaling.maxReplicas",
      "serving.autoscaling.target",
    ]);
    expect(findings[1]?.message).toContain("0..1");
  });

  it("refuses an unknown metric and a missing target by the schema, naming the field", () => {
    const { findings } = load("serving:\n  autoscaling: {minReplicas: 1, maxReplicas: 2, metric: cpu}\n");
    expect(findings.map((f) => f.path)).toEqual(
      expect.arrayContaining(["serving.autoscaling.metric", "serving.autoscaling.target"]),
    );
  });

  it("refuses more than 64 replicas", () => {
    expect(load("serving: {replicas: 65}").findings[0]).toMatchObject({ path: "serving.replicas" });
  });

  it("runs replicas and autoscaling on queue depth or requests in flight on the local runtime", () => {
    for (const text of [
      "serving: {replicas: 2}",
      "serving:\n  autoscaling: {minReplicas: 1, maxReplicas: 2, metric: queueDepth, target: 2}\n",
      "serving:\n  autoscaling: {minReplicas: 1, maxReplicas: 3, metric: inFlight, target: 2}\n",
    ]) {
      expect(load(text, LOCAL).findings, text).toEqual([]);
    }
  });

  it("refuses more than 16 replicas, fixed or as an autoscaler's maximum, on the local runtime only", () => {
    const fixed = load("serving: {replicas: 17}", LOCAL);
    expect(fixed.manifest).toBeUndefined();
    expect(fixed.findings).toEqual([
      expect.objectContaining({
        code: "manifest.local-replicas",
        path: "serving.replicas",
        message: expect.stringContaining("replicas: 17 asks for more server processes"),
        hint: expect.stringContaining("16 or fewer"),
      }),
    ]);
    const autoscaled = load(
      "serving:\n  autoscaling: {minReplicas: 1, maxReplicas: 40, metric: inFlight, target: 2}\n",
      LOCAL,
    );
    expect(autoscaled.findings).toEqual([
      expect.objectContaining({ code: "manifest.local-replicas", path: "serving.autoscaling.maxReplicas" }),
    ]);
    expect(load("serving: {replicas: 16}", LOCAL).findings).toEqual([]);
    expect(load("serving: {replicas: 40}").findings).toEqual([]);
  });

  it("refuses autoscaling on the KV cache locally, with the reason: one sequence per server", () => {
    const { manifest, findings } = load(
      "serving:\n  autoscaling: {minReplicas: 1, maxReplicas: 2, metric: kvCacheUsage, target: 0.7}\n",
      LOCAL,
    );
    expect(manifest).toBeUndefined();
    expect(findings).toEqual([
      expect.objectContaining({
        code: "manifest.kv-cache-local",
        path: "serving.autoscaling.metric",
        message: expect.stringContaining("one request at a time"),
      }),
    ]);
  });

  it("refuses queueDepth with local.command, whose server's parallel slots modelship does not know", () => {
    const withCommand = { ...LOCAL, local: { ...LOCAL.local, command: "vllm serve {dir} --port {port}" } };
    const queue =
      "serving:\n  autoscaling: {minReplicas: 1, maxReplicas: 2, metric: queueDepth, target: 1}\n";
    expect(load(queue, withCommand).findings).toEqual([
      expect.objectContaining({ code: "manifest.queue-depth-command", path: "serving.autoscaling.metric" }),
    ]);
    expect(load(queue.replace("queueDepth", "inFlight"), withCommand).findings).toEqual([]);
  });
});

describe("rollout.capacity", () => {
  it("is surge unless the manifest says otherwise", () => {
    expect(load("").manifest?.rollout.capacity).toBe("surge");
    expect(load("rollout: {capacity: surge}").manifest?.rollout.capacity).toBe("surge");
  });

  it("accepts constrained: CanaryStep shrinks the stable as the candidate grows, Rollback restores it first", () => {
    const { manifest, findings } = load("rollout: {capacity: constrained}");
    expect(findings).toEqual([]);
    expect(manifest?.rollout.capacity).toBe("constrained");
  });

  it("refuses constrained with blue/green, which needs the candidate at full size beside the stable", () => {
    const { manifest, findings } = load("rollout: {capacity: constrained, strategy: blueGreen}");
    expect(manifest).toBeUndefined();
    expect(findings).toEqual([
      expect.objectContaining({ code: "manifest.capacity-blue-green", path: "rollout.capacity" }),
    ]);
  });

  it("refuses a mode it does not know, suggesting the nearest", () => {
    const { findings } = load("rollout: {capacity: constrainted}");
    expect(findings[0]).toMatchObject({ path: "rollout.capacity" });
    expect(`${findings[0]?.message} ${findings[0]?.hint ?? ""}`).toContain("constrained");
  });
});
