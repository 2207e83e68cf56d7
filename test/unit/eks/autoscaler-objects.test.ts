import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { describe, expect, it } from "vitest";
import { autoscalerObjects, chooseAutoscaler } from "../../../lib/aws/eks/autoscaler-objects";
import type { PrometheusEndpoint } from "../../../lib/core/config/config";
import type { AutoscalingSettings } from "../../../lib/ports";

const TARGET = {
  name: "llama-v2",
  namespace: "models",
  labels: { "app.kubernetes.io/managed-by": "modelship", "modelship.io/rollout": "r-1" },
};
const QUEUE: AutoscalingSettings = {
  kind: "autoscaling",
  minReplicas: 2,
  maxReplicas: 8,
  metric: "queueDepth",
  target: 4,
  cooldownSeconds: 300,
};
const AMP: PrometheusEndpoint = { kind: "amp", workspaceId: "ws-1234" };
const RANGE = { minReplicas: 2, maxReplicas: 8 };

describe("autoscalerObjects", () => {
  it("builds a KEDA ScaledObject on vLLM's queue depth per replica, SigV4 to Amazon Managed Prometheus, valid by KEDA's schema", () => {
    const objects = autoscalerObjects(TARGET, QUEUE, RANGE, "keda", AMP, "eu-west-1");
    if (objects.kind !== "keda") throw new Error("expected KEDA");
    new ScaledObject(objects.scaledObject as never).validate();
    new TriggerAuthentication(objects.triggerAuthentication as never).validate();
    expect(objects.scaledObject.spec).toMatchObject({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "llama-v2" },
      minReplicaCount: 2,
      maxReplicaCount: 8,
      advanced: {
        horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 300 } } },
      },
      triggers: [
        {
          type: "prometheus",
          metricType: "AverageValue",
          metadata: {
            serverAddress: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234",
            query: 'sum(vllm:num_requests_waiting{namespace="models",pod=~"llama-v2-[a-z0-9]+-[a-z0-9]+"})',
            threshold: "4",
            ignoreNullValues: "false",
            awsRegion: "eu-west-1",
          },
          authenticationRef: { name: "llama-v2" },
        },
      ],
    });
    expect(objects.triggerAuthentication?.spec).toEqual({ podIdentity: { provider: "aws" } });
    expect(objects.scaledObject.metadata.labels).toEqual(TARGET.labels);
  });

  it("queries an in-cluster Prometheus Service directly, with no AWS authentication", () => {
    const service: PrometheusEndpoint = {
      kind: "service",
      namespace: "monitoring",
      service: "prometheus",
      port: 9090,
      pathPrefix: "/prom",
    };
    const settings = { ...QUEUE, metric: "kvCacheUsage" as const, target: 0.7 };
    const objects = autoscalerObjects(TARGET, settings, RANGE, "keda", service, "eu-west-1");
    if (objects.kind !== "keda") throw new Error("expected KEDA");
    new ScaledObject(objects.scaledObject as never).validate();
    expect(objects.triggerAuthentication).toBeUndefined();
    expect(objects.scaledObject.spec.triggers[0]?.metadata).toEqual({
      serverAddress: "http://prometheus.monitoring.svc:9090/prom",
      query: 'sum(vllm:kv_cache_usage_perc{namespace="models",pod=~"llama-v2-[a-z0-9]+-[a-z0-9]+"})',
      threshold: "0.7",
      ignoreNullValues: "false",
    });
  });

  it("builds an autoscaling/v2 HPA on the requests in flight as a Pods metric, valid by the Kubernetes schema", () => {
    const settings = { ...QUEUE, metric: "inFlight" as const, target: 16, cooldownSeconds: 60 };
    const objects = autoscalerObjects(TARGET, settings, RANGE, "hpa", undefined, "eu-west-1");
    if (objects.kind !== "hpa") throw new Error("expected an HPA");
    new HorizontalPodAutoscaler(objects.hpa as never).validate();
    expect(objects.hpa.spec).toEqual({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "llama-v2" },
      minReplicas: 2,
      maxReplicas: 8,
      metrics: [
        {
          type: "Pods",
          pods: {
            metric: { name: "vllm_num_requests_running" },
            target: { type: "AverageValue", averageValue: "16" },
          },
        },
      ],
      behavior: { scaleDown: { stabilizationWindowSeconds: 60 } },
    });
  });

  it("writes a fractional HPA target as a quantity in thousandths", () => {
    const settings = { ...QUEUE, metric: "kvCacheUsage" as const, target: 0.75 };
    const objects = autoscalerObjects(TARGET, settings, RANGE, "hpa", AMP, "eu-west-1");
    if (objects.kind !== "hpa") throw new Error("expected an HPA");
    new HorizontalPodAutoscaler(objects.hpa as never).validate();
    expect(objects.hpa.spec?.metrics?.[0]?.pods?.target.averageValue).toBe("750m");
  });

  it("pins a version to a count with min = max, which both schemas accept", () => {
    const pinned = { minReplicas: 3, maxReplicas: 3 };
    const keda = autoscalerObjects(TARGET, QUEUE, pinned, "keda", AMP, "eu-west-1");
    const hpa = autoscalerObjects(TARGET, QUEUE, pinned, "hpa", AMP, "eu-west-1");
    if (keda.kind !== "keda" || hpa.kind !== "hpa") throw new Error("expected both kinds");
    new ScaledObject(keda.scaledObject as never).validate();
    new HorizontalPodAutoscaler(hpa.hpa as never).validate();
    expect([keda.scaledObject.spec.minReplicaCount, keda.scaledObject.spec.maxReplicaCount]).toEqual([3, 3]);
    expect([hpa.hpa.spec?.minReplicas, hpa.hpa.spec?.maxReplicas]).toEqual([3, 3]);
  });

  it("refuses a range no plan can make: zero replicas, or min above max", () => {
    for (const range of [
      { minReplicas: 0, maxReplicas: 2 },
      { minReplicas: 3, maxReplicas: 2 },
    ]) {
      expect(() => autoscalerObjects(TARGET, QUEUE, range, "hpa", AMP, "eu-west-1")).toThrow(
        /1 ≤ minReplicas ≤ maxReplicas/,
      );
    }
  });
});

describe("chooseAutoscaler", () => {
  it("chooses KEDA when its CRD is installed and the stack has a Prometheus, saying so", () => {
    expect(chooseAutoscaler(true, AMP)).toEqual({
      kind: "keda",
      reason: expect.stringContaining("Amazon Managed Prometheus workspace ws-1234"),
    });
  });

  it("falls back to an HPA on the custom metrics API without KEDA, or without a Prometheus, saying why", () => {
    expect(chooseAutoscaler(false, AMP)).toEqual({
      kind: "hpa",
      reason: expect.stringContaining("scaledobjects.keda.sh) is not installed"),
    });
    expect(chooseAutoscaler(true, undefined).reason).toContain("names no Prometheus");
  });
});
