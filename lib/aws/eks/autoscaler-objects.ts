// The autoscaler of one served version, built by pure functions: a KEDA ScaledObject (keda.sh/v1alpha1) with
// the Prometheus scaler on vLLM's own per-replica signals when KEDA is installed and the stack has a
// Prometheus, else an `autoscaling/v2` HorizontalPodAutoscaler on the custom metrics API (a Pods metric). Both
// scale the version's Deployment between a range: the manifest's (serving.autoscaling) when the version serves
// all traffic, or a pinned count (min = max) while a canary's capacity plan decides its replicas.
//
// The signals (vLLM's metric names, docs.vllm.ai "Production Metrics"):
//   queueDepth   → vllm:num_requests_waiting   requests waiting to be scheduled, per replica
//   kvCacheUsage → vllm:kv_cache_usage_perc    share of the KV cache in use, 0..1 (1 = 100%)
//   inFlight     → vllm:num_requests_running   requests being served, per replica
// KEDA's Prometheus trigger treats `threshold` as a per-replica average (metricType AverageValue, its default):
// the HPA it creates runs ceil(sum over the version's pods / threshold) replicas, so the query sums the pods.
// For Amazon Managed Prometheus the trigger signs its queries with SigV4: `awsRegion` in the trigger and a
// TriggerAuthentication with `podIdentity.provider: aws` (KEDA ≥ 2.13; kedacore/keda#5373 and
// keda.sh/docs/2.14/authentication-providers/aws), whose default `identityOwner: keda` uses the KEDA operator's
// own IAM role — it needs `aps:QueryMetrics` on the workspace (docs/eks.md, Autoscaling).

import type { V2HorizontalPodAutoscaler } from "@kubernetes/client-node";
import type { PrometheusEndpoint } from "../../core/config/config";
import type { AutoscalingMetric } from "../../core/manifest/manifest-schema";
import type { AutoscalingSettings, ReplicaRange } from "../../ports";

export type AutoscalerKind = "keda" | "hpa";

/** The vLLM series each signal reads, and the name a Prometheus adapter serves it under in the custom metrics API. */
export const AUTOSCALING_SERIES: Readonly<Record<AutoscalingMetric, { prometheus: string; custom: string }>> =
  {
    queueDepth: { prometheus: "vllm:num_requests_waiting", custom: "vllm_num_requests_waiting" },
    kvCacheUsage: { prometheus: "vllm:kv_cache_usage_perc", custom: "vllm_kv_cache_usage_perc" },
    inFlight: { prometheus: "vllm:num_requests_running", custom: "vllm_num_requests_running" },
  };

/** A KEDA ScaledObject as the API server takes it (keda.sh/v1alpha1). */
export interface ScaledObject {
  readonly apiVersion: "keda.sh/v1alpha1";
  readonly kind: "ScaledObject";
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly scaleTargetRef: { readonly apiVersion: string; readonly kind: string; readonly name: string };
    readonly minReplicaCount: number;
    readonly maxReplicaCount: number;
    readonly advanced: {
      readonly horizontalPodAutoscalerConfig: {
        readonly behavior: { readonly scaleDown: { readonly stabilizationWindowSeconds: number } };
      };
    };
    readonly triggers: readonly {
      readonly type: "prometheus";
      readonly metricType: "AverageValue";
      readonly metadata: Readonly<Record<string, string>>;
      readonly authenticationRef?: { readonly name: string };
    }[];
  };
}

/** A KEDA TriggerAuthentication: SigV4 for Amazon Managed Prometheus with the KEDA operator's identity. */
export interface TriggerAuthentication {
  readonly apiVersion: "keda.sh/v1alpha1";
  readonly kind: "TriggerAuthentication";
  readonly metadata: ObjectMeta;
  readonly spec: { readonly podIdentity: { readonly provider: "aws" } };
}

interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The Deployment an autoscaler scales, with the labels its objects carry (the rollout's, for removal). */
export interface AutoscalerTarget {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

export type AutoscalerObjects =
  | {
      readonly kind: "keda";
      readonly scaledObject: ScaledObject;
      readonly triggerAuthentication?: TriggerAuthentication;
    }
  | { readonly kind: "hpa"; readonly hpa: V2HorizontalPodAutoscaler };

/**
 * Which autoscaler serves a version on this cluster, and why, in a sentence for DeployCandidate's output:
 * KEDA needs its CRDs and a Prometheus to query; without either, the HPA reads the custom metrics API.
 */
export function chooseAutoscaler(
  kedaInstalled: boolean,
  prometheus: PrometheusEndpoint | undefined,
): { readonly kind: AutoscalerKind; readonly reason: string } {
  if (kedaInstalled && prometheus) {
    return {
      kind: "keda",
      reason: `KEDA's ScaledObject CRD is installed and the stack queries ${describeEndpoint(prometheus)}: a KEDA ScaledObject with the Prometheus scaler.`,
    };
  }
  const why = kedaInstalled
    ? "KEDA is installed but the stack names no Prometheus for it to query (canaryMetrics.prometheus)"
    : "KEDA's ScaledObject CRD (scaledobjects.keda.sh) is not installed";
  return {
    kind: "hpa",
    reason: `${why}: an autoscaling/v2 HorizontalPodAutoscaler on the custom metrics API (a Prometheus adapter must serve vLLM's metrics as Pods metrics).`,
  };
}

/** The autoscaler objects of `target` for the settings, in the range given. */
export function autoscalerObjects(
  target: AutoscalerTarget,
  settings: AutoscalingSettings,
  range: ReplicaRange,
  kind: AutoscalerKind,
  prometheus: PrometheusEndpoint | undefined,
  region: string,
): AutoscalerObjects {
  checkRange(range);
  const metadata: ObjectMeta = { name: target.name, namespace: target.namespace, labels: target.labels };
  const scaleTargetRef = { apiVersion: "apps/v1", kind: "Deployment", name: target.name };
  const series = AUTOSCALING_SERIES[settings.metric];
  if (kind === "hpa" || !prometheus) {
    return {
      kind: "hpa",
      hpa: {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { ...metadata, labels: { ...metadata.labels } },
        spec: {
          scaleTargetRef,
          minReplicas: range.minReplicas,
          maxReplicas: range.maxReplicas,
          metrics: [
            {
              type: "Pods",
              pods: {
                metric: { name: series.custom },
                target: { type: "AverageValue", averageValue: quantity(settings.target) },
              },
            },
          ],
          behavior: { scaleDown: { stabilizationWindowSeconds: settings.cooldownSeconds } },
        },
      },
    };
  }
  const amp = prometheus.kind === "amp";
  const triggerAuthentication: TriggerAuthentication | undefined = amp
    ? {
        apiVersion: "keda.sh/v1alpha1",
        kind: "TriggerAuthentication",
        metadata,
        spec: { podIdentity: { provider: "aws" } },
      }
    : undefined;
  return {
    kind: "keda",
    scaledObject: {
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata,
      spec: {
        scaleTargetRef,
        minReplicaCount: range.minReplicas,
        maxReplicaCount: range.maxReplicas,
        // minReplicas ≥ 1 (scale-to-zero is refused), so KEDA's own cooldownPeriod — which only governs the
        // step to zero — never applies; the HPA's scale-down stabilization is the cooldown.
        advanced: {
          horizontalPodAutoscalerConfig: {
            behavior: { scaleDown: { stabilizationWindowSeconds: settings.cooldownSeconds } },
          },
        },
        triggers: [
          {
            type: "prometheus",
            metricType: "AverageValue",
            metadata: {
              serverAddress: serverAddress(prometheus, region),
              query: versionQuery(series.prometheus, target),
              threshold: String(settings.target),
              // A Prometheus that lost the pods' series is an error, not zero load that scales the version in.
              ignoreNullValues: "false",
              ...(amp && { awsRegion: prometheus.region ?? region }),
            },
            ...(triggerAuthentication && {
              authenticationRef: { name: triggerAuthentication.metadata.name },
            }),
          },
        ],
      },
    },
    ...(triggerAuthentication && { triggerAuthentication }),
  };
}

/**
 * The sum of one series over the version's pods. The pods of a Deployment are `<deployment>-<hash>-<id>`; the
 * stack's Prometheus labels its series with `namespace` and `pod`, as Kubernetes pod discovery does
 * (kube-prometheus, the ADOT collector and AMP's managed scraper all keep them).
 */
export function versionQuery(series: string, target: Pick<AutoscalerTarget, "name" | "namespace">): string {
  return `sum(${series}{namespace="${target.namespace}",pod=~"${target.name}-[a-z0-9]+-[a-z0-9]+"})`;
}

function serverAddress(endpoint: PrometheusEndpoint, region: string): string {
  switch (endpoint.kind) {
    case "amp":
      return `https://aps-workspaces.${endpoint.region ?? region}.amazonaws.com/workspaces/${endpoint.workspaceId}`;
    case "service":
      // KEDA runs in the cluster and reaches the Service directly, not through the API server's proxy.
      return `http://${endpoint.service}.${endpoint.namespace}.svc:${endpoint.port}${endpoint.pathPrefix ?? ""}`;
    case "url":
      return endpoint.url.replace(/\/+$/, "");
  }
}

function describeEndpoint(endpoint: PrometheusEndpoint): string {
  switch (endpoint.kind) {
    case "amp":
      return `Amazon Managed Prometheus workspace ${endpoint.workspaceId} (SigV4, the KEDA operator's IAM role)`;
    case "service":
      return `the Prometheus Service ${endpoint.namespace}/${endpoint.service}`;
    case "url":
      return `the Prometheus at ${endpoint.url}`;
  }
}

/** A Kubernetes quantity for a target: whole numbers as they are, fractions in thousandths (0.7 → 700m). */
function quantity(value: number): string {
  return Number.isInteger(value) ? String(value) : `${Math.round(value * 1000)}m`;
}

function checkRange(range: ReplicaRange): void {
  const { minReplicas, maxReplicas } = range;
  if (
    !Number.isInteger(minReplicas) ||
    minReplicas < 1 ||
    !Number.isInteger(maxReplicas) ||
    maxReplicas < minReplicas
  ) {
    throw new RangeError(
      `An autoscaler's range must be whole numbers with 1 ≤ minReplicas ≤ maxReplicas, found ${minReplicas}–${maxReplicas}.`,
    );
  }
}
