// The capacity side of the EKS Serving adapter against the in-test API server: scaling a candidate up and
// down, its autoscaler (a KEDA ScaledObject when KEDA is installed, an HPA when not) created, pinned during a
// canary, given back its range and removed with the workload, and the cluster's GPU capacity read from its
// nodes, their pods and Karpenter's NodePools.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ClusterConnection } from "../../../lib/aws/eks/cluster";
import { EksServing } from "../../../lib/aws/eks/eks-serving";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../../lib/core/config/config";
import type { AutoscalingSettings } from "../../../lib/ports";
import { llamaCandidateSpec } from "../../support/candidate-spec";
import { FixedClock } from "../../support/fixed-clock";
import { KubernetesApiServer } from "./kubernetes-api-server";

const NAMESPACE = "models";
const NAME = "llama-3-8b-v3";
const server = new KubernetesApiServer();
let url = "";

beforeAll(async () => {
  url = await server.start();
});
afterAll(() => server.stop());
beforeEach(() => server.reset());

const WITH_AMP: StackConfig = {
  ...DEFAULT_STACK_CONFIG,
  canaryMetrics: {
    ...DEFAULT_STACK_CONFIG.canaryMetrics,
    prometheus: {
      endpoint: { kind: "amp", workspaceId: "ws-1234" },
      queries: { requests: 'sum(increase(vllm:request_success_total{model_name="{{model}}"}[{{window}}]))' },
    },
  },
};
const GPU_NODES: StackConfig = {
  ...DEFAULT_STACK_CONFIG,
  gpu: { ...DEFAULT_STACK_CONFIG.gpu, nodeSelector: { "node.kubernetes.io/gpu": "a10g" } },
};
const SETTINGS: AutoscalingSettings = {
  kind: "autoscaling",
  minReplicas: 1,
  maxReplicas: 6,
  metric: "queueDepth",
  target: 4,
  cooldownSeconds: 120,
};

function serving(config: StackConfig = DEFAULT_STACK_CONFIG): EksServing {
  const connection: ClusterConnection = {
    endpoint: async () => ({ server: url, caData: server.caData }),
    token: async () => "token",
  };
  return new EksServing({
    config,
    connection,
    region: "us-west-2",
    clock: new FixedClock("2025-06-01T12:00:00.000Z"),
  });
}

type Json = Record<string, unknown>;
const specOf = (kind: "deployments" | "scaledobjects" | "horizontalpodautoscalers") =>
  server.object(kind, NAMESPACE, NAME)?.spec as Json | undefined;
const annotationsOf = (kind: "scaledobjects" | "horizontalpodautoscalers") =>
  (server.object(kind, NAMESPACE, NAME)?.metadata as { annotations?: Record<string, string> }).annotations;

describe("EksServing: scale and replicas", () => {
  it("scales the Deployment up and down, writing it back with the resourceVersion it read", async () => {
    const handle = await serving().deploy(llamaCandidateSpec({}));
    await serving().scale(handle, 3);
    expect(specOf("deployments")?.replicas).toBe(3);
    await serving().scale(handle, 1);
    expect(specOf("deployments")?.replicas).toBe(1);
    const puts = server.requests.filter((r) => r.method === "PUT" && r.path.endsWith(`/deployments/${NAME}`));
    expect(puts).toHaveLength(2);
  });

  it("writes nothing when the Deployment already has the count", async () => {
    const handle = await serving().deploy(llamaCandidateSpec({}));
    await serving().scale(handle, 1);
    expect(server.requests.filter((r) => r.method === "PUT")).toHaveLength(0);
  });

  it("counts only replicas ready under the Deployment's latest spec", async () => {
    const handle = await serving().deploy(llamaCandidateSpec({}));
    await serving().scale(handle, 3);
    const deployment = server.object("deployments", NAMESPACE, NAME)!;
    (deployment.metadata as Json).generation = 2;
    server.setDeploymentStatus(NAMESPACE, NAME, {
      observedGeneration: 1,
      readyReplicas: 1,
      updatedReplicas: 1,
    });
    expect(await serving().replicas(handle)).toEqual({ desired: 3, ready: 0 });
    server.setDeploymentStatus(NAMESPACE, NAME, {
      observedGeneration: 2,
      readyReplicas: 2,
      updatedReplicas: 3,
    });
    expect(await serving().replicas(handle)).toEqual({ desired: 3, ready: 2 });
  });

  it("says the Deployment is gone when it was deleted behind the rollout's back", async () => {
    const handle = await serving().deploy(llamaCandidateSpec({}));
    server.objects.clear();
    await expect(serving().scale(handle, 2)).rejects.toMatchObject({
      name: "CandidateFailed",
      message: expect.stringContaining(`Deployment ${NAMESPACE}/${NAME} does not exist`),
    });
  });

  it("reports a Deployment changed by another writer in between as Transient, for the state machine to retry", async () => {
    const handle = await serving().deploy(llamaCandidateSpec({}));
    server.beforeNext("PUT", /deployments/, () =>
      server.edit("deployments", NAMESPACE, NAME, (object) => ((object.metadata as Json).labels = {})),
    );
    await expect(serving().scale(handle, 2)).rejects.toMatchObject({ name: "Transient" });
  });
});

describe("EksServing: autoscale", () => {
  it("makes a KEDA ScaledObject and its SigV4 TriggerAuthentication when KEDA is installed and the stack has AMP", async () => {
    const handle = await serving(WITH_AMP).deploy(llamaCandidateSpec({}));
    const choice = await serving(WITH_AMP).autoscale(handle, SETTINGS, { minReplicas: 1, maxReplicas: 6 });
    expect(choice.kind).toBe("keda");
    expect(choice.reason).toContain("ScaledObject CRD is installed");
    expect(specOf("scaledobjects")).toMatchObject({ minReplicaCount: 1, maxReplicaCount: 6 });
    expect(server.object("triggerauthentications", NAMESPACE, NAME)?.spec).toEqual({
      podIdentity: { provider: "aws" },
    });
    expect(server.object("horizontalpodautoscalers", NAMESPACE, NAME)).toBeUndefined();
  });

  it("makes an autoscaling/v2 HPA when KEDA's CRD is not installed, saying why", async () => {
    server.installed.delete("keda.sh");
    const handle = await serving(WITH_AMP).deploy(llamaCandidateSpec({}));
    const choice = await serving(WITH_AMP).autoscale(handle, SETTINGS, { minReplicas: 2, maxReplicas: 6 });
    expect(choice).toEqual({ kind: "hpa", reason: expect.stringContaining("is not installed") });
    expect(specOf("horizontalpodautoscalers")).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
  });

  it("updates the autoscaler it made before instead of failing on AlreadyExists", async () => {
    const handle = await serving(WITH_AMP).deploy(llamaCandidateSpec({}));
    await serving(WITH_AMP).autoscale(handle, SETTINGS, { minReplicas: 1, maxReplicas: 6 });
    await serving(WITH_AMP).autoscale(handle, { ...SETTINGS, target: 8 }, { minReplicas: 2, maxReplicas: 4 });
    expect(specOf("scaledobjects")).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 4 });
    const trigger = (specOf("scaledobjects")?.triggers as { metadata: Json }[])[0];
    expect(trigger?.metadata.threshold).toBe("8");
  });

  it("pins the autoscaler to the canary's count, and gives it back its own range afterwards", async () => {
    for (const kedaInstalled of [true, false]) {
      server.reset();
      if (!kedaInstalled) server.installed.delete("keda.sh");
      const kind = kedaInstalled ? "scaledobjects" : "horizontalpodautoscalers";
      const [min, max] = kedaInstalled
        ? ["minReplicaCount", "maxReplicaCount"]
        : ["minReplicas", "maxReplicas"];
      const handle = await serving(WITH_AMP).deploy(llamaCandidateSpec({}));
      await serving(WITH_AMP).autoscale(handle, SETTINGS, { minReplicas: 2, maxReplicas: 6 });

      await serving(WITH_AMP).scale(handle, 3);
      await serving(WITH_AMP).scale(handle, 4);
      expect([specOf(kind)?.[min], specOf(kind)?.[max]], kind).toEqual([4, 4]);
      expect(specOf("deployments")?.replicas, kind).toBe(4);
      expect(annotationsOf(kind)?.["modelship.io/autoscaler-range"], kind).toBe("2-6");

      await serving(WITH_AMP).scale(handle, "autoscaled");
      expect([specOf(kind)?.[min], specOf(kind)?.[max]], kind).toEqual([2, 6]);
      expect(annotationsOf(kind)?.["modelship.io/autoscaler-range"], kind).toBeUndefined();
      // The replicas it runs are inside its range again, so they stay.
      expect(specOf("deployments")?.replicas, kind).toBe(4);
    }
  });

  it("gives an autoscaler made pinned (DeployCandidate's one replica for the gates) the manifest's range at Promote", async () => {
    for (const kedaInstalled of [true, false]) {
      server.reset();
      if (!kedaInstalled) server.installed.delete("keda.sh");
      const kind = kedaInstalled ? "scaledobjects" : "horizontalpodautoscalers";
      const [min, max] = kedaInstalled
        ? ["minReplicaCount", "maxReplicaCount"]
        : ["minReplicas", "maxReplicas"];
      const handle = await serving(WITH_AMP).deploy(llamaCandidateSpec({}));
      const manifestRange = { ...SETTINGS, minReplicas: 2, maxReplicas: 5 };
      await serving(WITH_AMP).autoscale(handle, manifestRange, { minReplicas: 1, maxReplicas: 1 });
      expect([specOf(kind)?.[min], specOf(kind)?.[max]], kind).toEqual([1, 1]);

      await serving(WITH_AMP).scale(handle, 3); // a canary step
      await serving(WITH_AMP).scale(handle, "autoscaled"); // Promote
      expect([specOf(kind)?.[min], specOf(kind)?.[max]], kind).toEqual([2, 5]);
      expect(annotationsOf(kind)?.["modelship.io/autoscaler-range"], kind).toBeUndefined();
    }
  });

  it("is removed with the workload: the autoscaler names the Deployment as its owner", async () => {
    const handle = await serving(WITH_AMP).deploy(llamaCandidateSpec({}));
    await serving(WITH_AMP).autoscale(handle, SETTINGS, { minReplicas: 1, maxReplicas: 6 });
    const owners = (server.object("scaledobjects", NAMESPACE, NAME)?.metadata as Json).ownerReferences;
    const uid = (server.object("deployments", NAMESPACE, NAME)?.metadata as Json).uid;
    expect(owners).toEqual([{ apiVersion: "apps/v1", kind: "Deployment", name: NAME, uid }]);

    await serving(WITH_AMP).remove(handle);
    // The pods' service account is shared by every version and stays.
    expect([...server.objects.keys()]).toEqual([`serviceaccounts/${NAMESPACE}/modelship-candidate`]);
  });

  it("leaves nothing behind when a rollout is removed by its label", async () => {
    server.installed.delete("keda.sh");
    const spec = llamaCandidateSpec({});
    const handle = await serving().deploy(spec);
    await serving().autoscale(handle, SETTINGS, { minReplicas: 1, maxReplicas: 6 });
    await serving().removeRollout(spec.model, spec.rolloutId);
    expect([...server.objects.keys()].filter((key) => !key.startsWith("serviceaccounts/"))).toEqual([]);
  });
});

describe("EksServing: checkCapacity", () => {
  function gpuNode(name: string, gpus: number, labels: Record<string, string> = {}, ready = true): Json {
    return {
      metadata: { name, labels: { "node.kubernetes.io/gpu": "a10g", ...labels } },
      spec: {},
      status: {
        allocatable: { "nvidia.com/gpu": String(gpus) },
        capacity: { "nvidia.com/gpu": String(gpus) },
        conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      },
    };
  }
  function gpuPod(node: string, gpus: number, phase = "Running"): Json {
    return {
      metadata: { name: `p-${node}-${gpus}-${phase}`, namespace: "other", labels: {} },
      spec: {
        nodeName: node,
        containers: [{ name: "c", resources: { limits: { "nvidia.com/gpu": String(gpus) } } }],
      },
      status: { phase },
    };
  }

  it("counts allocatable GPUs minus what running pods request, on the ready nodes of the stack's selector", async () => {
    server.installed.delete("karpenter.sh");
    server.nodes.push(gpuNode("a", 4), gpuNode("b", 4), gpuNode("down", 4, {}, false));
    server.nodes.push({ ...gpuNode("cpu", 8), metadata: { name: "cpu", labels: {} } });
    server.pods.push(gpuPod("a", 3), gpuPod("b", 1), gpuPod("b", 2, "Succeeded"), gpuPod("cpu", 8));

    const check = await serving(GPU_NODES).checkCapacity({ gpus: 4, replicas: 1 });
    expect(check).toMatchObject({ enough: true, neededGpus: 4, freeGpus: 4 });
    expect(check.provisionableGpus).toBeUndefined();
    expect(check.reason).toBe(
      "The rollout needs 4 more nvidia.com/gpu; 4 are free on 2 ready nodes matching node.kubernetes.io/gpu=a10g.",
    );
    expect(await serving(GPU_NODES).checkCapacity({ gpus: 5, replicas: 1 })).toMatchObject({
      enough: false,
      freeGpus: 4,
    });
  });

  it("adds what Karpenter's NodePools may still launch within their GPU limits", async () => {
    server.nodes.push(gpuNode("a", 4, { "karpenter.sh/nodepool": "gpu" }));
    server.pods.push(gpuPod("a", 4));
    server.nodePools.push({
      metadata: { name: "gpu" },
      spec: {
        limits: { "nvidia.com/gpu": "12" },
        template: { metadata: { labels: { "node.kubernetes.io/gpu": "a10g" } } },
      },
    });
    const check = await serving(GPU_NODES).checkCapacity({ gpus: 8, replicas: 1 });
    expect(check).toMatchObject({ enough: true, freeGpus: 0, provisionableGpus: 8 });
    expect(check.reason).toContain("Karpenter's NodePools may add 8 more within their limits");
    expect(await serving(GPU_NODES).checkCapacity({ gpus: 9, replicas: 1 })).toMatchObject({ enough: false });
  });

  it("leaves out nodes whose taints the candidates do not tolerate, and cordoned ones, as doctor does", async () => {
    server.installed.delete("karpenter.sh");
    const tainted = gpuNode("tainted", 4);
    (tainted.spec as Json).taints = [{ key: "dedicated", value: "training", effect: "NoSchedule" }];
    const tolerated = gpuNode("tolerated", 4);
    // The stack's default tolerations: nvidia.com/gpu Exists NoSchedule; PreferNoSchedule never keeps a pod off.
    (tolerated.spec as Json).taints = [
      { key: "nvidia.com/gpu", effect: "NoSchedule" },
      { key: "spot", effect: "PreferNoSchedule" },
    ];
    const cordoned = gpuNode("cordoned", 4);
    (cordoned.spec as Json).unschedulable = true;
    server.nodes.push(tainted, tolerated, cordoned);

    const check = await serving(GPU_NODES).checkCapacity({ gpus: 4, replicas: 1 });
    expect(check).toMatchObject({ enough: true, freeGpus: 4 });
    expect(check.reason).toContain("4 are free on 1 ready node matching");
    expect(await serving(GPU_NODES).checkCapacity({ gpus: 5, replicas: 1 })).toMatchObject({ enough: false });
  });

  it("does not count a NodePool whose template's taints the candidates do not tolerate", async () => {
    const labels = { "node.kubernetes.io/gpu": "a10g" };
    server.nodePools.push(
      {
        metadata: { name: "training" },
        spec: {
          limits: { "nvidia.com/gpu": "64" },
          template: { metadata: { labels }, spec: { taints: [{ key: "dedicated", effect: "NoExecute" }] } },
        },
      },
      {
        metadata: { name: "inference" },
        spec: {
          limits: { "nvidia.com/gpu": "8" },
          template: {
            metadata: { labels },
            spec: { taints: [{ key: "nvidia.com/gpu", effect: "NoSchedule" }] },
          },
        },
      },
    );
    const check = await serving(GPU_NODES).checkCapacity({ gpus: 8, replicas: 1 });
    expect(check).toMatchObject({ enough: true, freeGpus: 0, provisionableGpus: 8 });
    expect(await serving(GPU_NODES).checkCapacity({ gpus: 9, replicas: 1 })).toMatchObject({ enough: false });
  });

  it("says a NodePool without a GPU limit may add more, and lets the rollout go on", async () => {
    server.nodePools.push({ metadata: { name: "open" }, spec: { template: { metadata: { labels: {} } } } });
    const check = await serving().checkCapacity({ gpus: 16, replicas: 1 });
    expect(check.enough).toBe(true);
    expect(check.reason).toContain("Karpenter NodePool open has no nvidia.com/gpu limit");
  });

  it("needs no cluster call for 0 GPUs (a CPU model)", async () => {
    expect(await serving().checkCapacity({ gpus: 0, replicas: 1 })).toMatchObject({
      enough: true,
      neededGpus: 0,
    });
    expect(server.requests).toHaveLength(0);
  });

  it("names the access it lacks when the cluster forbids listing nodes", async () => {
    server.failNext("GET", /^\/api\/v1\/nodes$/, 403);
    await expect(serving().checkCapacity({ gpus: 1, replicas: 1 })).rejects.toThrow(
      /list the cluster's nodes/,
    );
  });
});
