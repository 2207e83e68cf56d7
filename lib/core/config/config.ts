// The stack's configuration: what a platform team decides once (cluster, allow-lists, GPU shape, defaults)
// and every rollout inherits. On AWS it is the ModelPipeline construct's props, passed to the functions as
// the MODELSHIP_CONFIG environment variable; locally it is `.modelship/config.json` over these defaults.

import type { TrafficSource } from "../alarms/canary-metrics";
import { MANIFEST_DEFAULTS } from "../manifest/manifest-defaults";
import type { FailureSignature } from "../smoke/failure-signatures";
import type {
  ResolvedAlarms,
  ResolvedApproval,
  ResolvedEvalSuite,
  ResolvedServing,
  ResolvedSmokeGate,
  ResolvedStressGate,
} from "../manifest/manifest-schema";

export interface Toleration {
  readonly key: string;
  readonly operator?: "Equal" | "Exists";
  readonly value?: string;
  readonly effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

export interface GpuConfig {
  /** Memory of one GPU in GiB (80 for an H100/A100-80G, 24 for an L4/A10G). */
  readonly memoryGiB: number;
  /** GPUs on one node: the upper bound of a tensor-parallel group. */
  readonly maxPerNode: number;
  /** Fraction of GPU memory vLLM may use (`--gpu-memory-utilization`). */
  readonly utilization: number;
  /** Concurrent sequences the KV cache is sized for. */
  readonly defaultConcurrency: number;
  /** The extended resource requested per GPU. */
  readonly resourceName: string;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly Toleration[];
}

/** How candidates are run: on the cluster (EKS) and, for the local runtime, on this machine. */
export interface ServingConfig {
  /**
   * How weights reach the server on EKS: `init-container` copies them from S3 into a volume sized from the
   * weights (`aws s3 sync` in `loaderImage`); `vllm-s3` lets vLLM stream them from S3 itself.
   */
  readonly weightsLoader: "init-container" | "vllm-s3";
  /** Image of the init container that copies the weights (it needs the AWS CLI). */
  readonly loaderImage: string;
  /** Service account of the candidate pods, bound to an IAM role that can read the bucket (Pod Identity or IRSA). */
  readonly serviceAccountName: string;
  /** Port the model server listens on inside the pod. */
  readonly port: number;
  /**
   * URL of a candidate for heavy traffic (the stress test), with `{service}`, `{namespace}`, `{port}`: a name
   * the load workers resolve and reach, e.g. an internal load balancer's `http://{service}.models.internal`
   * (docs/eks.md, "Stress testing from inside the VPC"; cluster DNS names do not resolve outside the cluster).
   * Empty: all traffic goes through the API server's service proxy.
   */
  readonly internalUrlTemplate: string;
  /** Seconds between readiness checks. */
  readonly readinessPollSeconds: number;
  /** The startup budget: this many seconds … */
  readonly startupBaseSeconds: number;
  /** … plus this many per GiB of weights (downloading and loading them). */
  readonly startupSecondsPerGiB: number;
  /** CPU and memory requests of the server container (Kubernetes quantities). */
  readonly cpu: string;
  readonly memory: string;
  /** Failure signatures of this platform, checked before the built-in ones (lib/core/smoke/failure-signatures.ts). */
  readonly failureSignatures: readonly FailureSignature[];
}

/** How the gateway routes a model's requests (Kubernetes Gateway API HTTPRoute, or the local gateway). */
export interface GatewayConfig {
  /**
   * The header that names a request's model, which each model's HTTPRoute matches on (an OpenAI-aware
   * gateway sets it from the body's `model`). Empty: match on `pathPrefix` alone (one model per gateway).
   */
  readonly modelHeader: string;
  /** The path prefix every model route matches, e.g. `/v1`. */
  readonly pathPrefix: string;
  /**
   * The gateway's base URL as the functions reach it (for the prober); empty: the prober reaches each
   * version's server directly through Serving.endpoint.
   */
  readonly url: string;
  /**
   * The cluster's gateway implements HTTPRoute `sessionPersistence` (Gateway API GEP-1619; the experimental
   * channel's CRDs installed): Envoy Gateway and kgateway do, Istio does not (docs/eks.md, Sticky canaries).
   * A rollout with `rollout.stickiness` is refused at RegisterGateway, before any traffic moves, unless it is
   * true — a gateway that ignores the field would split a conversation between versions.
   */
  readonly sessionPersistence: boolean;
}

/** Where a Prometheus the platform team already runs answers PromQL. */
export type PrometheusEndpoint =
  /** Amazon Managed Service for Prometheus, queried over SigV4 (`aps:QueryMetrics`). */
  | { readonly kind: "amp"; readonly workspaceId: string; readonly region?: string }
  /** A Prometheus in the cluster, through the API server's service proxy (`get` on `services/proxy`). */
  | {
      readonly kind: "service";
      readonly namespace: string;
      readonly service: string;
      readonly port: number;
      /** The path Prometheus serves under, e.g. `/prometheus` behind a route prefix. Default: none. */
      readonly pathPrefix?: string;
    }
  /** Any Prometheus-compatible query API the functions (or this machine) reach directly over HTTP(S). */
  | { readonly kind: "url"; readonly url: string };

/**
 * The PromQL that gives each real-traffic value of one version for one probe window, by metric: a query
 * answers one number (a one-element vector or a scalar). `{{model}}`, `{{version}}` and `{{variant}}`
 * (`candidate` or `stable`) may appear inside quoted label values; `{{window}}` is the window as a range
 * (`10s`), e.g. `sum(increase(vllm:request_success_total{model_name="{{model}}-{{version}}"}[{{window}}]))`.
 */
export interface PrometheusQueryTemplates {
  readonly requests: string;
  readonly errors?: string;
  readonly aborted?: string;
  /** Seconds, as histogram_quantile over vLLM's `_seconds` histograms gives them. */
  readonly latencyP95Seconds?: string;
  readonly ttftP95Seconds?: string;
  readonly itlP95Seconds?: string;
  readonly queueTimeP95Seconds?: string;
  readonly requestsWaiting?: string;
}

export interface PrometheusConfig {
  readonly endpoint: PrometheusEndpoint;
  readonly queries: PrometheusQueryTemplates;
}

/** The metrics the canary's alarms watch. */
export interface CanaryMetricsConfig {
  /** CloudWatch namespace of the canary's metrics (lib/core/alarms/canary-metrics.ts). */
  readonly namespace: string;
  /** Seconds between probe rounds while a canary runs. */
  readonly probeEverySeconds: number;
  /** Requests per variant per round. */
  readonly probeRequests: number;
  /** `max_tokens` of a probe request: probes measure responsiveness, not throughput. */
  readonly probeMaxTokens: number;
  /**
   * How the canary's alarms are named — `<alarmPrefix><model>-<version>-<what>` — and what the alarm rule and the
   * alarms' IAM grants match: one prefix per pipeline, so no two pipelines act on each other's alarms.
   */
  readonly alarmPrefix: string;
  /**
   * Real traffic's metrics from a Prometheus the platform team runs, published with Source `prometheus`.
   * Absent: each probe round scrapes the serving pods' own `/metrics` (Source `traffic`).
   */
  readonly prometheus?: PrometheusConfig;
}

/** Where the alarms find real traffic's values under this config. */
export function trafficSourceOf(config: Pick<StackConfig, "canaryMetrics">): TrafficSource {
  return config.canaryMetrics.prometheus ? "prometheus" : "traffic";
}

/** The local runtime's serving: llama.cpp built in, or a command template for another server. */
export interface LocalServingConfig {
  /** CPU threads per llama.cpp server (node-llama-cpp's own default oversubscribes small machines). */
  readonly threads: number;
  /**
   * A command that serves `{dir}` (the model folder) on `{port}` as `{name}`, e.g.
   * `vllm serve {dir} --port {port} --served-model-name {name}`. Empty: the built-in llama.cpp server.
   */
  readonly command: string;
  /** Port of the local gateway (and of the control plane's admin API under `/_modelship/`); 0 = any free port. */
  readonly gatewayPort: number;
  /**
   * The most server processes the local runtime runs at once, every model and version together (replicas
   * beyond it stay pending until one stops, as pods on a full cluster do). Absent: no limit.
   */
  readonly maxServers?: number;
  /**
   * Not a setting: the local runtime puts the time factor it runs with here (`--time-factor`), for the rules
   * that compare a scaled Wait with real time — an alarm's periods are never scaled. Absent: real time (AWS).
   */
  readonly timeFactor?: number;
}

/** A function hook a manifest may name (`lambda: <name>`): the allow-list that keeps bucket writers from naming code. */
export interface HookFunction {
  readonly name: string;
  /** On AWS: the function's ARN, the only ones RunHooks may invoke (the construct's `allowedHookFunctions`). */
  readonly arn?: string;
  /** Locally: the command (program and arguments, no shell) run with the hook's request on stdin. */
  readonly command?: readonly string[];
}

/** What rollout hooks (core/gates/hooks.ts) may call. */
export interface HooksConfig {
  /** The function hooks manifests may name; any other name is refused at Prepare. */
  readonly functions: readonly HookFunction[];
  /**
   * Whether manifests may name URL hooks: their bodies are signed with a key the stack holds (on AWS a Secrets
   * Manager secret, the construct's `hookSigningSecret`; locally the home's `hook-signing-key`).
   */
  readonly urlHooks: boolean;
  /** Whether a URL hook may be plain `http://` to a loopback address (the local runtime: the request never leaves the machine). */
  readonly loopbackHttp: boolean;
}

export interface RolloutDefaults {
  readonly steps: readonly (number | { readonly weight: number; readonly bakeSeconds?: number })[];
  readonly bakeSeconds: number;
  readonly watchSeconds: number;
  /** How long a rollout waits for the capacity its plan needs before InsufficientCapacity (0: fail at once). */
  readonly capacityWaitSeconds: number;
  readonly alarms: ResolvedAlarms;
  readonly approval: ResolvedApproval;
}

/**
 * The stack's serving defaults. `runtime` and `image` go together (the image is one allowed for that runtime);
 * `maxModelLen` caps the context an unset manifest value takes from the model (core/weights/serving-choice). The
 * replica count is not the stack's to default: a version serves with one replica unless its manifest says more.
 */
export type ServingDefaults = Required<Omit<ResolvedServing, "scaling">>;

export interface ManifestDefaults {
  readonly serving: ServingDefaults;
  readonly gates: {
    readonly smoke: ResolvedSmokeGate;
    readonly stress: ResolvedStressGate;
    readonly eval: {
      readonly enabled: boolean;
      readonly suites: readonly ResolvedEvalSuite[];
      /** The share of a suite's items that may go without an answer before it counts as not evaluated. */
      readonly maxErrorRate: number;
    };
  };
  readonly rollout: RolloutDefaults;
  /** Default `minScore` / `maxRegression` for a suite that names neither. */
  readonly evalSuite: { readonly minScore: number; readonly maxRegression: number };
}

export interface StackConfig {
  /** EKS cluster the candidates run on. */
  readonly clusterName: string;
  /** Kubernetes namespace for candidates, routes and their service account. */
  readonly namespace: string;
  /** The Gateway API parent every model's HTTPRoute attaches to. */
  readonly gatewayParent: {
    readonly name: string;
    readonly namespace: string;
    readonly sectionName?: string;
  };
  /** Container images a manifest may name; anything else is refused. The first is the default per runtime. */
  readonly allowedImages: { readonly vllm: readonly string[]; readonly "llama.cpp": readonly string[] };
  /** Extra server flags a manifest may pass (the flag name, e.g. `--enable-prefix-caching`). */
  readonly allowedExtraArgs: readonly string[];
  /** Whether a manifest may ask for `--trust-remote-code` (runs Python from the bucket on the cluster). */
  readonly allowTrustRemoteCode: boolean;
  readonly gpu: GpuConfig;
  readonly serving: ServingConfig;
  readonly gateway: GatewayConfig;
  readonly canaryMetrics: CanaryMetricsConfig;
  readonly local: LocalServingConfig;
  readonly hooks: HooksConfig;
  readonly defaults: ManifestDefaults;
  /** Eval suites are split into shards of at most this many items (one Map iteration each). */
  readonly evalShardSize: number;
}

export const DEFAULT_STACK_CONFIG: StackConfig = {
  clusterName: "modelship",
  namespace: "models",
  gatewayParent: { name: "inference-gateway", namespace: "gateway" },
  allowedImages: {
    vllm: ["vllm/vllm-openai:v0.11.0"],
    "llama.cpp": ["ghcr.io/ggml-org/llama.cpp:server"],
  },
  allowedExtraArgs: [
    "--enable-prefix-caching",
    "--enable-chunked-prefill",
    "--max-num-seqs",
    "--max-num-batched-tokens",
    "--gpu-memory-utilization",
    "--kv-cache-dtype",
    "--dtype",
    "--quantization",
    "--enforce-eager",
  ],
  allowTrustRemoteCode: false,
  gpu: {
    memoryGiB: 80,
    maxPerNode: 8,
    utilization: 0.9,
    defaultConcurrency: 16,
    resourceName: "nvidia.com/gpu",
    nodeSelector: {},
    tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
  },
  serving: {
    weightsLoader: "init-container",
    loaderImage: "public.ecr.aws/aws-cli/aws-cli:2.27.0",
    serviceAccountName: "modelship-candidate",
    port: 8000,
    internalUrlTemplate: "",
    readinessPollSeconds: 15,
    startupBaseSeconds: 600,
    startupSecondsPerGiB: 20,
    cpu: "4",
    memory: "32Gi",
    failureSignatures: [],
  },
  gateway: { modelHeader: "x-model-id", pathPrefix: "/v1", url: "", sessionPersistence: false },
  canaryMetrics: {
    namespace: "modelship",
    probeEverySeconds: 10,
    probeRequests: 2,
    probeMaxTokens: 8,
    alarmPrefix: "modelship-",
  },
  local: { threads: 1, command: "", gatewayPort: 8080 },
  hooks: { functions: [], urlHooks: false, loopbackHttp: false },
  defaults: MANIFEST_DEFAULTS,
  evalShardSize: 50,
};
