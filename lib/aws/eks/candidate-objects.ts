// The Kubernetes objects of one candidate, built from its spec and the stack config by pure functions: a
// Deployment running the model server (vLLM or llama.cpp) with the weights copied from S3 by an init
// container or streamed by vLLM itself, and a ClusterIP Service in front of it. Nothing a manifest says
// reaches the cluster unchecked: the image and every server flag are checked against the stack's
// allow-lists again here, names and label values are made valid (with a hash when they had to change),
// and all arguments are argv elements — no shell ever sees them.

import type {
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1Probe,
  V1SecurityContext,
  V1Service,
  V1ServiceAccount,
  V1Toleration,
  V1Volume,
} from "@kubernetes/client-node";
import { createHash } from "node:crypto";
import type { StackConfig } from "../../core/config/config";
import { CandidateFailed } from "../../core/errors";
import type { CandidateSpec } from "../../ports";

export const ROLLOUT_LABEL = "modelship.io/rollout";
const INSTANCE_LABEL = "app.kubernetes.io/instance";
const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
const MANAGED_BY = "modelship";

const SERVER_CONTAINER = "server";
const LOADER_CONTAINER = "weights";
const PORT_NAME = "http";
const WEIGHTS_VOLUME = "weights";
const WEIGHTS_DIR = "/models/weights";
const SHM_VOLUME = "dshm";
const LOADER_USER = 1000;
/** Pickle weights run code when loaded: Validate refuses them unless safe twins exist; never copied. */
const NEVER_COPIED = ["modelship.*", "*.bin", "*.pt", "*.pth", "*.pkl", "*.ckpt"];
const GIB = 2 ** 30;
const STARTUP_PROBE_PERIOD_SECONDS = 10;
const TRUST_REMOTE_CODE = "--trust-remote-code";

export interface CandidateObjectOptions {
  readonly config: StackConfig;
  /** The region the pods reach S3 in (AWS_REGION of the weights loader and of vLLM's S3 streaming). */
  readonly region: string;
  /**
   * The file the server opens, relative to the weights prefix: servers open GGUF weights by file (the first
   * shard of a split model). Safetensors models are opened as a folder and need none.
   */
  readonly modelFile?: string;
}

export interface CandidateObjects {
  /** The Deployment's and the Service's name: `<model>-<version>` as a valid DNS label. */
  readonly name: string;
  readonly namespace: string;
  readonly rolloutId: string;
  readonly deployment: V1Deployment;
  readonly service: V1Service;
  /** The pods' service account, created when missing; its IAM role (Pod Identity or IRSA) reads the weights. */
  readonly serviceAccount: V1ServiceAccount;
}

/** The label selector of a candidate Deployment's pods, by the Deployment's name. */
export function candidatePodSelector(deployment: string): string {
  return `${INSTANCE_LABEL}=${deployment},${MANAGED_BY_LABEL}=${MANAGED_BY}`;
}

/** The Deployment, Service and service account of a candidate; CandidateFailed for anything not allowed. */
export function candidateObjects(spec: CandidateSpec, options: CandidateObjectOptions): CandidateObjects {
  const { config } = options;
  checkImage(spec, config);
  checkWeightsLocation(spec, options.modelFile);
  const name = candidateName(spec.model, spec.version);
  const namespace = config.namespace;
  const labels = {
    "app.kubernetes.io/name": labelValue(spec.model),
    [INSTANCE_LABEL]: name,
    [MANAGED_BY_LABEL]: MANAGED_BY,
    "modelship.io/model": labelValue(spec.model),
    "modelship.io/version": labelValue(spec.version),
    [ROLLOUT_LABEL]: labelValue(spec.rolloutId),
  };
  // Label values may have been shortened; the annotations keep the exact values.
  const annotations = {
    "modelship.io/rollout": spec.rolloutId,
    "modelship.io/version": spec.version,
    "modelship.io/weights": `s3://${spec.weights.bucket}/${spec.weights.prefix}`,
  };
  const selector = { [INSTANCE_LABEL]: name, [MANAGED_BY_LABEL]: MANAGED_BY };
  const metadata = { name, namespace, labels, annotations };

  const streamsFromS3 = usesVllmS3Streaming(spec, config);
  const server = serverContainer(spec, options, streamsFromS3);
  const volumes: V1Volume[] = [];
  if (!streamsFromS3) {
    volumes.push({ name: WEIGHTS_VOLUME, emptyDir: { sizeLimit: weightsVolumeSize(spec.weightBytes) } });
  }
  if (spec.runtime === "vllm") {
    // PyTorch's worker processes share tensors through /dev/shm, which is 64 MiB in a container by default.
    volumes.push({ name: SHM_VOLUME, emptyDir: { medium: "Memory" } });
  }
  const gpuPlacement =
    spec.gpus > 0
      ? {
          ...(Object.keys(config.gpu.nodeSelector).length > 0 && {
            nodeSelector: { ...config.gpu.nodeSelector },
          }),
          ...(config.gpu.tolerations.length > 0 && { tolerations: config.gpu.tolerations.map(toleration) }),
        }
      : {};

  const deployment: V1Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata,
    spec: {
      replicas: 1,
      // A rolling update would need a second set of GPUs; a candidate is never updated in place anyway.
      strategy: { type: "Recreate" },
      revisionHistoryLimit: 1,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels, annotations },
        spec: {
          serviceAccountName: config.serving.serviceAccountName,
          // The server never calls the Kubernetes API; Pod Identity and IRSA project their own tokens.
          automountServiceAccountToken: false,
          // Service links would put e.g. VLLM_PORT=tcp://… into the environment, which vLLM reads as its own setting.
          enableServiceLinks: false,
          securityContext: {
            seccompProfile: { type: "RuntimeDefault" },
            ...(!streamsFromS3 && { fsGroup: LOADER_USER }),
          },
          ...(!streamsFromS3 && { initContainers: [loaderContainer(spec, options)] }),
          containers: [server],
          volumes,
          ...gpuPlacement,
        },
      },
    },
  };

  const service: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata,
    spec: {
      type: "ClusterIP",
      selector,
      ports: [{ name: PORT_NAME, port: config.serving.port, targetPort: PORT_NAME, protocol: "TCP" }],
    },
  };

  const serviceAccount: V1ServiceAccount = {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: {
      name: config.serving.serviceAccountName,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
    },
  };

  return {
    name,
    namespace,
    rolloutId: spec.rolloutId,
    deployment,
    service,
    serviceAccount,
  };
}

/** `<model>-<version>` as a DNS-1035 label (a Service name must be one), hashed when it had to change. */
function candidateName(model: string, version: string): string {
  const raw = `${model}-${version}`;
  let cleaned = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "");
  if (!/^[a-z]/.test(cleaned)) cleaned = `m-${cleaned}`;
  if (cleaned === raw && cleaned.length <= 63) return cleaned;
  return `${cleaned.slice(0, 63 - 9).replace(/-+$/, "")}-${shortHash(raw)}`;
}

/** The value of ROLLOUT_LABEL on a rollout's objects. */
export function rolloutLabelValue(rolloutId: string): string {
  return labelValue(rolloutId);
}

/** A valid label value (≤ 63, alphanumeric ends, `-_.` inside), hashed when it had to change. */
function labelValue(text: string): string {
  if (text.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(text)) return text;
  const cleaned = text
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 63 - 9)
    .replace(/[^A-Za-z0-9]+$/, "");
  return cleaned ? `${cleaned}-${shortHash(text)}` : shortHash(text);
}

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

function checkImage(spec: CandidateSpec, config: StackConfig): void {
  const allowed = config.allowedImages[spec.runtime];
  if (allowed.includes(spec.image)) return;
  throw new CandidateFailed(
    `Image '${spec.image}' is not on the stack's allowed images for runtime ${spec.runtime} (${allowed.join(", ") || "none"}); nothing was deployed.`,
    {
      hint: "Name an allowed image in serving.image, or ask the platform team to add this one to allowedImages.",
    },
  );
}

/** Bucket and prefix are checked by Prepare; checked again because they end up in a pod's arguments. */
function checkWeightsLocation(spec: CandidateSpec, modelFile: string | undefined): void {
  const { bucket, prefix } = spec.weights;
  const problems: string[] = [];
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    problems.push(`bucket '${bucket}' is not a bucket name`);
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/?$/.test(prefix) || prefix.split("/").includes("..")) {
    problems.push(`prefix '${prefix}' is not a key prefix like models/<name>/<version>/`);
  }
  if (modelFile !== undefined && !isRelativeKey(modelFile)) {
    problems.push(`model file '${modelFile}' is not a file path under the prefix`);
  }
  if (spec.format === "gguf" && modelFile === undefined) {
    problems.push("a GGUF model needs its file named (modelFile): servers open GGUF weights by file");
  }
  if (problems.length > 0) {
    throw new CandidateFailed(`The candidate's weights cannot be located: ${problems.join("; ")}.`, {
      hint: "This is a modelship bug (Prepare and Validate check these); report it with the rollout id.",
    });
  }
}

function isRelativeKey(path: string): boolean {
  return /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(path) && !path.split("/").includes("..");
}

/** vLLM streams safetensors from S3 (the Run:ai streamer) when the stack says so; GGUF is always copied. */
function usesVllmS3Streaming(spec: CandidateSpec, config: StackConfig): boolean {
  return (
    config.serving.weightsLoader === "vllm-s3" && spec.runtime === "vllm" && spec.format === "safetensors"
  );
}

function weightsUri(spec: CandidateSpec): string {
  return `s3://${spec.weights.bucket}/${spec.weights.prefix.replace(/\/?$/, "/")}`;
}

/** The weights plus 10% and 1 GiB for the copy's own files; a whole number of GiB. */
function weightsVolumeSize(weightBytes: number): string {
  return `${Math.ceil((Math.max(0, weightBytes) * 1.1 + GIB) / GIB)}Gi`;
}

/** Seconds the server may take to answer /health: the stack's base plus its allowance per GiB of weights. */
function startupBudgetSeconds(spec: CandidateSpec, config: StackConfig): number {
  const { startupBaseSeconds, startupSecondsPerGiB } = config.serving;
  return Math.ceil(startupBaseSeconds + startupSecondsPerGiB * (Math.max(0, spec.weightBytes) / GIB));
}

const RESTRICTED: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
};

function loaderContainer(spec: CandidateSpec, { config, region }: CandidateObjectOptions): V1Container {
  return {
    name: LOADER_CONTAINER,
    image: config.serving.loaderImage,
    command: ["aws"],
    args: [
      "s3",
      "sync",
      weightsUri(spec),
      WEIGHTS_DIR,
      ...NEVER_COPIED.flatMap((pattern) => ["--exclude", pattern]),
      "--only-show-errors",
    ],
    env: [...regionEnv(region), { name: "HOME", value: "/tmp" }],
    resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } },
    volumeMounts: [{ name: WEIGHTS_VOLUME, mountPath: WEIGHTS_DIR }],
    securityContext: {
      ...RESTRICTED,
      runAsNonRoot: true,
      runAsUser: LOADER_USER,
      runAsGroup: LOADER_USER,
    },
  };
}

function serverContainer(
  spec: CandidateSpec,
  options: CandidateObjectOptions,
  streamsFromS3: boolean,
): V1Container {
  const { config, region } = options;
  const port = config.serving.port;
  const extraArgs = allowedExtraArgs(spec, config);
  const gpuResources = spec.gpus > 0 ? { [config.gpu.resourceName]: String(spec.gpus) } : {};
  const volumeMounts = [
    ...(streamsFromS3 ? [] : [{ name: WEIGHTS_VOLUME, mountPath: WEIGHTS_DIR, readOnly: true }]),
    ...(spec.runtime === "vllm" ? [{ name: SHM_VOLUME, mountPath: "/dev/shm" }] : []),
  ];
  const localModel = options.modelFile === undefined ? WEIGHTS_DIR : `${WEIGHTS_DIR}/${options.modelFile}`;
  const health = (periodSeconds: number, failureThreshold: number, timeoutSeconds: number): V1Probe => ({
    httpGet: { path: "/health", port: PORT_NAME },
    periodSeconds,
    failureThreshold,
    timeoutSeconds,
  });
  const common = {
    name: SERVER_CONTAINER,
    image: spec.image,
    ports: [{ name: PORT_NAME, containerPort: port, protocol: "TCP" }],
    resources: {
      requests: {
        cpu: config.serving.cpu,
        memory: config.serving.memory,
        // The copied weights live on the node's disk: schedule where they fit.
        ...(!streamsFromS3 && { "ephemeral-storage": weightsVolumeSize(spec.weightBytes) }),
        ...gpuResources,
      },
      limits: { memory: config.serving.memory, ...gpuResources },
    },
    volumeMounts,
    startupProbe: health(
      STARTUP_PROBE_PERIOD_SECONDS,
      Math.max(1, Math.ceil(startupBudgetSeconds(spec, config) / STARTUP_PROBE_PERIOD_SECONDS)),
      5,
    ),
    readinessProbe: health(10, 3, 5),
    livenessProbe: health(30, 3, 10),
    securityContext: RESTRICTED,
  };

  if (spec.runtime === "llama.cpp") {
    // The image's entrypoint is llama-server; where the binary lives differs between its builds.
    return {
      ...common,
      args: [
        "-m",
        localModel,
        "--host",
        "0.0.0.0",
        "--port",
        String(port),
        "-c",
        String(spec.maxModelLen),
        "--alias",
        spec.servedName,
        ...(spec.gpus > 0 ? ["-ngl", "999"] : []),
        ...extraArgs,
      ],
    };
  }

  const sets = (flag: string) => extraArgs.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  return {
    ...common,
    // `vllm serve` rather than the image's entrypoint, which older images set to the api_server module.
    command: ["vllm", "serve"],
    args: [
      streamsFromS3 ? weightsUri(spec).replace(/\/$/, "") : localModel,
      ...(streamsFromS3 ? ["--load-format", "runai_streamer"] : []),
      "--served-model-name",
      spec.servedName,
      "--tensor-parallel-size",
      String(Math.max(1, spec.gpus)),
      "--max-model-len",
      String(spec.maxModelLen),
      "--host",
      "0.0.0.0",
      "--port",
      String(port),
      // The GPU plan Validate made assumed the stack's utilization; the manifest may still choose its own.
      ...(sets("--gpu-memory-utilization") ? [] : [`--gpu-memory-utilization=${config.gpu.utilization}`]),
      ...extraArgs,
    ],
    env: [
      // Weights come from the bucket only: never from the Hugging Face Hub, and no usage reports leave the cluster.
      { name: "HF_HUB_OFFLINE", value: "1" },
      { name: "VLLM_NO_USAGE_STATS", value: "1" },
      ...(streamsFromS3 ? regionEnv(region) : []),
    ],
  };
}

/**
 * Each extra arg is `--flag` or `--flag=value` with the flag on the stack's allow-list, or
 * `--trust-remote-code` (the manifest asked for it) where the stack allows remote code; anything else is refused.
 */
function allowedExtraArgs(spec: CandidateSpec, config: StackConfig): readonly string[] {
  const allowed = new Set(config.allowedExtraArgs.filter((flag) => flag !== TRUST_REMOTE_CODE));
  if (config.allowTrustRemoteCode) allowed.add(TRUST_REMOTE_CODE);
  const refused = spec.extraArgs.filter((arg) => {
    const flag = /^(--[A-Za-z0-9][A-Za-z0-9-]*)(=[^\p{Cc}]*)?$/u.exec(arg)?.[1];
    return flag === undefined || !allowed.has(flag) || arg.startsWith(`${TRUST_REMOTE_CODE}=`);
  });
  if (refused.length === 0) return spec.extraArgs;
  throw new CandidateFailed(
    `Server arguments not on the stack's allow-list: ${refused.map((arg) => `'${arg}'`).join(", ")}; nothing was deployed.`,
    {
      hint: `Allowed flags: ${config.allowedExtraArgs.join(", ") || "none"}, as --flag or --flag=value. Remove the others from serving.extraArgs, or ask the platform team to allow them.`,
    },
  );
}

function regionEnv(region: string): V1EnvVar[] {
  return [
    { name: "AWS_REGION", value: region },
    { name: "AWS_DEFAULT_REGION", value: region },
  ];
}

function toleration(t: StackConfig["gpu"]["tolerations"][number]): V1Toleration {
  return {
    key: t.key,
    ...(t.operator && { operator: t.operator }),
    ...(t.value !== undefined && { value: t.value }),
    ...(t.effect && { effect: t.effect }),
  };
}
