// How many replicas an autoscaler runs, decided as Kubernetes' HorizontalPodAutoscaler decides it
// (kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/, "Algorithm details"), so the local
// runtime's autoscaler behaves like the HPA/KEDA one a version gets on EKS:
// - desired = ceil(current × metric / target), where metric is the per-replica average;
// - no change while metric / target is within the tolerance of 1 (the HPA's default
//   --horizontal-pod-autoscaler-tolerance is 0.1), so a metric hovering at its target does not flap;
// - clamped to [minReplicas, maxReplicas];
// - up at once, down only as far as the highest recommendation of the last cooldownSeconds (the HPA's
//   scale-down stabilization window: "the highest recommendation within the window"; KEDA's cooldownPeriod
//   plays the same part), so a lull shorter than the cooldown removes nothing.

/** The HPA's default tolerance: a metric within 10% of its target changes nothing. */
export const HPA_TOLERANCE = 0.1;

/** One past recommendation: when (ms since the epoch) and how many replicas. */
export interface Recommendation {
  readonly at: number;
  readonly replicas: number;
}

export interface ReplicaDecisionInput {
  /** Replicas the workload runs now (its desired count). */
  readonly current: number;
  /** The metric's per-replica average now. */
  readonly metric: number;
  /** The per-replica value the autoscaler aims at; > 0. */
  readonly target: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cooldownSeconds: number;
  /** Now, in ms since the epoch. */
  readonly now: number;
  /** The recommendations of earlier decisions (older than the cooldown are dropped). */
  readonly history: readonly Recommendation[];
}

export interface ReplicaDecision {
  /** The replicas to run now. */
  readonly replicas: number;
  /** What the metric alone asks for now, clamped to the range (before the scale-down stabilization). */
  readonly recommended: number;
  /** The history to pass to the next decision: this one's recommendation and those still in the window. */
  readonly history: readonly Recommendation[];
}

export function decideReplicas(input: ReplicaDecisionInput): ReplicaDecision {
  const { current, metric, target, minReplicas, maxReplicas, cooldownSeconds, now } = input;
  if (!(target > 0)) throw new Error(`An autoscaler's target must be above 0, not ${target}.`);
  const ratio = metric / target;
  const raw =
    current === 0 ? minReplicas : Math.abs(ratio - 1) <= HPA_TOLERANCE ? current : Math.ceil(current * ratio);
  const recommended = Math.min(maxReplicas, Math.max(minReplicas, raw));
  const windowStart = now - cooldownSeconds * 1000;
  const history = [
    ...input.history.filter((r) => r.at > windowStart && r.at <= now),
    { at: now, replicas: recommended },
  ];
  if (recommended >= current) return { replicas: recommended, recommended, history };
  const stabilized = Math.max(...history.map((r) => r.replicas));
  // Never above the range, even when the range was narrowed within the window.
  return { replicas: Math.min(current, stabilized, maxReplicas), recommended, history };
}
