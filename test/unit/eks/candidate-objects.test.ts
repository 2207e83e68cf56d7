import type { V1Container, V1Deployment } from "@kubernetes/client-node";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { describe, expect, it } from "vitest";
import { candidateObjects } from "../../../lib/aws/eks/candidate-objects";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../../lib/core/config/config";
import type { CandidateSpec } from "../../../lib/ports";
import { llamaCandidateSpec } from "../../support/candidate-spec";

const DNS_1035_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const GIB = 2 ** 30;

function spec(overrides: Partial<CandidateSpec> = {}): CandidateSpec {
  return llamaCandidateSpec({ weightBytes: 16 * GIB, ...overrides });
}

const llamaCpp = (gpus: number) =>
  spec({
    runtime: "llama.cpp",
    image: "ghcr.io/ggml-org/llama.cpp:server",
    format: "gguf",
    gpus,
    weightBytes: 500_000,
  });

function withServing(serving: Partial<StackConfig["serving"]>, rest: Partial<StackConfig> = {}): StackConfig {
  return { ...DEFAULT_STACK_CONFIG, ...rest, serving: { ...DEFAULT_STACK_CONFIG.serving, ...serving } };
}

function build(candidate: CandidateSpec, config: StackConfig = DEFAULT_STACK_CONFIG) {
  return candidateObjects(candidate, {
    config,
    region: "us-west-2",
    ...(candidate.format === "gguf" && { modelFile: "model.gguf" }),
  });
}

const candidateName = (model: string, version: string) =>
  build(spec({ model, version, servedName: model, rolloutId: `${model}-${version}-0a1b2c3d` })).name;
const podOf = (deployment: V1Deployment) => deployment.spec!.template.spec!;
const serverOf = (deployment: V1Deployment): V1Container => podOf(deployment).containers[0]!;
const loaderOf = (deployment: V1Deployment): V1Container | undefined => podOf(deployment).initContainers?.[0];

describe("Candidate objects: valid Kubernetes objects for every kind of candidate", () => {
  const cases: [string, CandidateSpec, StackConfig][] = [
    ["vLLM, 1 GPU, weights copied by an init container", spec(), DEFAULT_STACK_CONFIG],
    ["vLLM, 8 GPUs, weights streamed from S3", spec({ gpus: 8 }), withServing({ weightsLoader: "vllm-s3" })],
    ["vLLM on GGUF, 1 GPU", spec({ format: "gguf" }), DEFAULT_STACK_CONFIG],
    ["llama.cpp on CPU (0 GPUs)", llamaCpp(0), DEFAULT_STACK_CONFIG],
    ["llama.cpp, 1 GPU", llamaCpp(1), DEFAULT_STACK_CONFIG],
    ["llama.cpp, 8 GPUs, vllm-s3 configured", llamaCpp(8), withServing({ weightsLoader: "vllm-s3" })],
  ];

  it.each(cases)(
    "%s: the Deployment, Service and ServiceAccount pass the Kubernetes OpenAPI schemas",
    (_, candidate, config) => {
      const objects = build(candidate, config);

      expect(() => new Deployment(objects.deployment as never).validate()).not.toThrow();
      expect(() => new Service(objects.service as never).validate()).not.toThrow();
      expect(() => new ServiceAccount(objects.serviceAccount as never).validate()).not.toThrow();
    },
  );

  it.each(cases)(
    "%s: names are DNS labels, label values are valid, and the selector picks the pod template",
    (_, candidate, config) => {
      const { deployment, service } = build(candidate, config);

      expect(deployment.metadata?.name).toMatch(DNS_1035_LABEL);
      for (const value of Object.values(deployment.metadata?.labels ?? {}))
        expect(value).toMatch(LABEL_VALUE);
      const selector = deployment.spec!.selector.matchLabels!;
      expect(deployment.spec!.template.metadata?.labels).toMatchObject(selector);
      expect(service.spec?.selector).toEqual(selector);
      expect(deployment.metadata?.namespace).toBe("models");
      expect(deployment.metadata?.ownerReferences).toBeUndefined();
    },
  );
});

describe("Candidate objects: names and labels", () => {
  it("names the candidate <model>-<version> when that is already a valid name", () => {
    expect(candidateName("llama-3-8b", "v3")).toBe("llama-3-8b-v3");
  });

  it("makes other versions valid, and adds a hash so two versions never get the same name", () => {
    const dotted = candidateName("llama", "V1.0_rc");
    const dashed = candidateName("llama", "v1-0-rc");
    expect(dotted).toMatch(/^llama-v1-0-rc-[0-9a-f]{8}$/);
    expect(dashed).toBe("llama-v1-0-rc");
    expect(candidateName("7b-chat", "v1")).toMatch(/^m-7b-chat-v1-[0-9a-f]{8}$/);
  });

  it("shortens long names to 63 characters, keeping them distinct", () => {
    const model = "a".repeat(63);
    const one = candidateName(model, "v1");
    const two = candidateName(model, "v2");
    expect(one).toHaveLength(63);
    expect(one).toMatch(DNS_1035_LABEL);
    expect(one).not.toBe(two);
  });

  it("labels the candidate with its model, version and rollout, and keeps the exact values in annotations", () => {
    const rolloutId = `llama-3-8b-${"v".repeat(60)}-0a1b2c3d`;
    const { deployment } = build(spec({ version: "v".repeat(60), rolloutId }));

    expect(deployment.metadata?.labels).toMatchObject({
      "app.kubernetes.io/name": "llama-3-8b",
      "app.kubernetes.io/managed-by": "modelship",
      "modelship.io/model": "llama-3-8b",
      "modelship.io/version": "v".repeat(60),
    });
    const rolloutLabel = deployment.metadata?.labels?.["modelship.io/rollout"] ?? "";
    expect(rolloutLabel.length).toBeLessThanOrEqual(63);
    expect(rolloutLabel).toMatch(LABEL_VALUE);
    expect(deployment.metadata?.annotations?.["modelship.io/rollout"]).toBe(rolloutId);
  });
});

describe("Candidate objects: the vLLM server", () => {
  it("runs vllm serve on the copied weights with the served name, GPU count, context length and port", () => {
    const { deployment } = build(spec({ gpus: 4 }));
    const server = serverOf(deployment);

    expect(server.image).toBe("vllm/vllm-openai:v0.11.0");
    expect(server.command).toEqual(["vllm", "serve"]);
    expect(server.args).toEqual([
      "/models/weights",
      "--served-model-name",
      "llama-3-8b",
      "--tensor-parallel-size",
      "4",
      "--max-model-len",
      "8192",
      "--host",
      "0.0.0.0",
      "--port",
      "8000",
      "--gpu-memory-utilization=0.9",
    ]);
    expect(server.env).toContainEqual({ name: "HF_HUB_OFFLINE", value: "1" });
  });

  it("passes allow-listed extra flags as they are, and leaves the GPU utilization to a manifest that sets it", () => {
    const { deployment } = build(
      spec({ extraArgs: ["--enable-prefix-caching", "--max-num-seqs=64", "--gpu-memory-utilization=0.8"] }),
    );
    const args = serverOf(deployment).args ?? [];

    expect(args.slice(-3)).toEqual([
      "--enable-prefix-caching",
      "--max-num-seqs=64",
      "--gpu-memory-utilization=0.8",
    ]);
    expect(args.filter((a) => a.startsWith("--gpu-memory-utilization"))).toHaveLength(1);
  });

  it("refuses every flag not on the stack's allow-list, listing them all", () => {
    expect(() =>
      build(spec({ extraArgs: ["--enforce-eager", "--chat-template=/etc/passwd", "-x", "positional"] })),
    ).toThrow(/not on the stack's allow-list: '--chat-template=\/etc\/passwd', '-x', 'positional'/);
  });

  it("passes --trust-remote-code only where the stack allows remote code", () => {
    const asking = spec({ extraArgs: ["--trust-remote-code"] });

    expect(() => build(asking)).toThrow(/'--trust-remote-code'/);
    const allowed = build(asking, { ...DEFAULT_STACK_CONFIG, allowTrustRemoteCode: true });
    expect(serverOf(allowed.deployment).args).toContain("--trust-remote-code");
  });

  it("refuses an image that is not on the runtime's allow-list", () => {
    expect(() => build(spec({ image: "ghcr.io/ggml-org/llama.cpp:server" }))).toThrow(
      /not on the stack's allowed images for runtime vllm \(vllm\/vllm-openai:v0.11.0\)/,
    );
  });

  it("gives PyTorch a memory-backed /dev/shm", () => {
    const { deployment } = build(spec());

    expect(podOf(deployment).volumes).toContainEqual({ name: "dshm", emptyDir: { medium: "Memory" } });
    expect(serverOf(deployment).volumeMounts).toContainEqual({ name: "dshm", mountPath: "/dev/shm" });
  });

  it("streams safetensors from S3 with the Run:ai streamer when the stack says vllm-s3: no init container, no volume", () => {
    const { deployment } = build(spec(), withServing({ weightsLoader: "vllm-s3" }));
    const server = serverOf(deployment);

    expect(loaderOf(deployment)).toBeUndefined();
    expect(server.args?.slice(0, 3)).toEqual([
      "s3://models-bucket/models/llama-3-8b/v3",
      "--load-format",
      "runai_streamer",
    ]);
    expect(server.env).toContainEqual({ name: "AWS_REGION", value: "us-west-2" });
    expect(podOf(deployment).volumes?.map((v) => v.name)).toEqual(["dshm"]);
  });
});

describe("Candidate objects: the llama.cpp server", () => {
  it("runs the image's llama-server on the GGUF file, offloading every layer when it has GPUs", () => {
    const server = serverOf(build(llamaCpp(1)).deployment);

    expect(server.command).toBeUndefined();
    expect(server.args).toEqual([
      "-m",
      "/models/weights/model.gguf",
      "--host",
      "0.0.0.0",
      "--port",
      "8000",
      "-c",
      "8192",
      "--alias",
      "llama-3-8b",
      "-ngl",
      "999",
    ]);
  });

  it("on CPU asks for no GPU and is not pinned to the GPU nodes", () => {
    const { deployment } = build(llamaCpp(0), {
      ...DEFAULT_STACK_CONFIG,
      gpu: { ...DEFAULT_STACK_CONFIG.gpu, nodeSelector: { "karpenter.k8s.aws/instance-gpu-name": "h100" } },
    });
    const server = serverOf(deployment);

    expect(server.args).not.toContain("-ngl");
    expect(server.resources?.limits).not.toHaveProperty("nvidia.com/gpu");
    expect(podOf(deployment).nodeSelector).toBeUndefined();
    expect(podOf(deployment).tolerations).toBeUndefined();
  });

  it("needs the GGUF file named: servers open GGUF weights by file", () => {
    expect(() =>
      candidateObjects(llamaCpp(0), { config: DEFAULT_STACK_CONFIG, region: "us-west-2" }),
    ).toThrow(/GGUF model needs its file named/);
  });
});

describe("Candidate objects: GPUs, weights and probes", () => {
  it("requests and limits the stack's GPU resource, with its node selector and tolerations", () => {
    const config: StackConfig = {
      ...DEFAULT_STACK_CONFIG,
      gpu: {
        ...DEFAULT_STACK_CONFIG.gpu,
        resourceName: "amd.com/gpu",
        nodeSelector: { "node.kubernetes.io/instance-type": "p5.48xlarge" },
        tolerations: [{ key: "gpu", operator: "Equal", value: "true", effect: "NoSchedule" }],
      },
    };
    const { deployment } = build(spec({ gpus: 8 }), config);
    const server = serverOf(deployment);

    expect(server.resources?.requests).toMatchObject({ "amd.com/gpu": "8", cpu: "4", memory: "32Gi" });
    expect(server.resources?.limits).toEqual({ "amd.com/gpu": "8", memory: "32Gi" });
    expect(podOf(deployment).nodeSelector).toEqual({ "node.kubernetes.io/instance-type": "p5.48xlarge" });
    expect(podOf(deployment).tolerations).toEqual([
      { key: "gpu", operator: "Equal", value: "true", effect: "NoSchedule" },
    ]);
  });

  it("copies the weights with aws s3 sync as argv, never the manifest or pickle files, into a volume sized from them", () => {
    const { deployment } = build(spec({ weightBytes: 16 * GIB }));
    const loader = loaderOf(deployment)!;

    expect(loader.image).toBe("public.ecr.aws/aws-cli/aws-cli:2.27.0");
    expect([...(loader.command ?? []), ...(loader.args ?? [])]).toEqual([
      "aws",
      "s3",
      "sync",
      "s3://models-bucket/models/llama-3-8b/v3/",
      "/models/weights",
      ...["modelship.*", "*.bin", "*.pt", "*.pth", "*.pkl", "*.ckpt"].flatMap((p) => ["--exclude", p]),
      "--only-show-errors",
    ]);
    // 16 GiB × 1.1 + 1 GiB = 18.6 → 19 GiB.
    expect(podOf(deployment).volumes).toContainEqual({ name: "weights", emptyDir: { sizeLimit: "19Gi" } });
    expect(serverOf(deployment).resources?.requests?.["ephemeral-storage"]).toBe("19Gi");
    expect(serverOf(deployment).volumeMounts).toContainEqual({
      name: "weights",
      mountPath: "/models/weights",
      readOnly: true,
    });
  });

  it("runs the weights loader as a non-root user without privileges, and the server without escalation", () => {
    const { deployment } = build(spec());

    expect(loaderOf(deployment)?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
    });
    expect(podOf(deployment).securityContext).toEqual({
      seccompProfile: { type: "RuntimeDefault" },
      fsGroup: 1000,
    });
    expect(serverOf(deployment).securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(podOf(deployment).serviceAccountName).toBe("modelship-candidate");
    expect(podOf(deployment).automountServiceAccountToken).toBe(false);
  });

  it("refuses a bucket or prefix that is not a plain name, as they become pod arguments", () => {
    expect(() => build(spec({ weights: { bucket: "models-bucket", prefix: "models/../secrets/" } }))).toThrow(
      /prefix 'models\/..\/secrets\/' is not a key prefix/,
    );
    expect(() => build(spec({ weights: { bucket: "b;rm -rf", prefix: "models/x/v1/" } }))).toThrow(
      /bucket 'b;rm -rf' is not a bucket name/,
    );
  });

  it("gives the server a startup budget that grows with the weights: base + seconds per GiB", () => {
    const config = withServing({ startupBaseSeconds: 600, startupSecondsPerGiB: 20 });
    const probe = (weightBytes: number) =>
      serverOf(build(spec({ weightBytes }), config).deployment).startupProbe!;

    const small = probe(0);
    const large = probe(140 * GIB);
    expect(small.httpGet?.path).toBe("/health");
    expect(small.periodSeconds! * small.failureThreshold!).toBe(600);
    expect(large.periodSeconds! * large.failureThreshold!).toBe(600 + 20 * 140);
    const server = serverOf(build(spec(), config).deployment);
    expect(server.readinessProbe?.httpGet?.path).toBe("/health");
    expect(server.livenessProbe?.httpGet?.path).toBe("/health");
  });

  it("puts a ClusterIP Service on the stack's port in front of the server's named port", () => {
    const { service, deployment } = build(spec(), withServing({ port: 9000 }));

    expect(service.spec?.type).toBe("ClusterIP");
    expect(service.spec?.ports).toEqual([{ name: "http", port: 9000, targetPort: "http", protocol: "TCP" }]);
    expect(serverOf(deployment).ports).toEqual([{ name: "http", containerPort: 9000, protocol: "TCP" }]);
  });
});
