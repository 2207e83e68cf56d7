// The local runtime's autoscaler: what it measures and how it decides, for one version at a time. It plays the
// part KEDA or an HPA plays on EKS, on the same manifest settings (serving.autoscaling), with the local
// gateway's own counts as the metric instead of vLLM's Prometheus metrics:
// - queueDepth: requests waiting for a free slot, per ready replica. A replica is sent requests by the
//   gateway (least outstanding first) and serves SLOTS_PER_SERVER of them at once; the rest wait in its
//   queue. So the version's waiting requests are Σ max(0, inFlight(replica) − slots) over its ready replicas
//   in rotation, divided by their count — the local twin of vLLM's vllm:num_requests_waiting per pod.
// - inFlight: requests in flight per ready replica (waiting or being served), the twin of
//   vllm:num_requests_running + waiting.
// kvCacheUsage is refused locally by the manifest (core/resolution/manifest-capacity.ts says why). The decision itself —
// ceil(current × metric / target), the tolerance, the range, the cooldown — is the HPA's
// (core/capacity/replica-recommendation.ts).

import type { AutoscalingSettings, ReplicaRange } from "../ports";
import { decideReplicas, type Recommendation } from "../core/capacity/replica-recommendation";

/**
 * Requests the built-in llama.cpp server serves at once: one, on a single context sequence
 * (lib/local/llama-server/loaded-model.ts); the rest wait in its queue.
 */
export const SLOTS_PER_SERVER = 1;

/** An autoscaled version: the manifest's settings, the range it may use now, its recent recommendations. */
export interface AutoscalerState {
  readonly settings: AutoscalingSettings;
  /** The manifest's range, or a pinned count (min = max) while a rollout's capacity plan holds it. */
  range: ReplicaRange;
  history: Recommendation[];
}

/** Why a version last changed its replica count, for `modelship status`. */
export interface ScaleCause {
  /** ISO timestamp. */
  readonly at: string;
  readonly from: number;
  readonly to: number;
  /** `autoscaler`: its metric asked; `rollout`: a stage set the count (pinned); `range`: the range changed. */
  readonly by: "autoscaler" | "rollout" | "range";
  /** The autoscaler's metric when it decided. */
  readonly metric?: { readonly name: string; readonly value: number; readonly target: number };
}

/** The version's metric now: its per-replica average over the ready replicas' in-flight counts. */
export function perReplicaMetric(metric: AutoscalingSettings["metric"], inFlight: readonly number[]): number {
  if (inFlight.length === 0) return 0;
  const counted =
    metric === "queueDepth" ? inFlight.map((n) => Math.max(0, n - SLOTS_PER_SERVER)) : [...inFlight];
  return counted.reduce((sum, n) => sum + n, 0) / inFlight.length;
}

/**
 * One autoscaler decision for a version running `current` replicas: the count to run now, or undefined to
 * leave it (pinned, or no ready replica to measure), with the cause to record when it changes.
 */
export function autoscaleStep(
  state: AutoscalerState,
  current: number,
  inFlight: readonly number[],
  now: number,
): { readonly replicas: number; readonly cause: ScaleCause } | undefined {
  const { settings, range } = state;
  if (range.minReplicas === range.maxReplicas || inFlight.length === 0) return undefined;
  const value = perReplicaMetric(settings.metric, inFlight);
  const decision = decideReplicas({
    current,
    metric: value,
    target: settings.target,
    minReplicas: range.minReplicas,
    maxReplicas: range.maxReplicas,
    cooldownSeconds: settings.cooldownSeconds,
    now,
    history: state.history,
  });
  state.history = [...decision.history];
  if (decision.replicas === current) return undefined;
  return {
    replicas: decision.replicas,
    cause: {
      at: new Date(now).toISOString(),
      from: current,
      to: decision.replicas,
      by: "autoscaler",
      metric: { name: settings.metric, value: Math.round(value * 1000) / 1000, target: settings.target },
    },
  };
}

/** The cause in a sentence: `1 → 2 at …: queueDepth 3 per replica against a target of 1`. */
export function describeScaleCause(cause: ScaleCause, cooldownSeconds?: number): string {
  const change = `${cause.from} → ${cause.to} at ${cause.at}`;
  if (cause.by === "rollout") return `${change}: set by the rollout (its capacity plan pins the count)`;
  if (cause.by === "range") return `${change}: brought into the autoscaler's range`;
  const { name, value, target } = cause.metric ?? { name: "metric", value: 0, target: 0 };
  const down = cause.to < cause.from && cooldownSeconds !== undefined;
  return `${change}: ${name} ${value} per replica against a target of ${target}${down ? `, and no higher recommendation in the last ${cooldownSeconds} s (the cooldown)` : ""}`;
}
