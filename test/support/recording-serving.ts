// A Serving port for stages that only remove candidates: it records removals and can be told to fail
// them, the way a failing cluster would.

import type {
  AutoscalerChoice,
  CandidateHandle,
  CandidateSpec,
  CandidateStatus,
  CapacityCheck,
  Endpoint,
  ReplicaCount,
  PodMetrics,
  Serving,
} from "../../lib/ports";

export class RecordingServing implements Serving {
  readonly removed: string[] = [];
  private readonly removeFailure: Error | undefined;
  /** Workloads that exist per rollout without a handle in the state (a deploy that failed half-way). */
  private readonly leftovers: Map<string, string[]>;

  constructor(
    options: {
      readonly failRemoveWith?: Error;
      readonly leftoversByRollout?: Readonly<Record<string, readonly string[]>>;
    } = {},
  ) {
    this.removeFailure = options.failRemoveWith;
    this.leftovers = new Map(Object.entries(options.leftoversByRollout ?? {}).map(([k, v]) => [k, [...v]]));
  }

  async removeRollout(_model: string, rolloutId: string): Promise<string[]> {
    if (this.removeFailure) throw this.removeFailure;
    const found = this.leftovers.get(rolloutId) ?? [];
    this.leftovers.delete(rolloutId);
    this.removed.push(...found);
    return found.map((workload) => `Deleted ${workload}.`);
  }

  async remove(handle: CandidateHandle): Promise<void> {
    if (this.removeFailure) throw this.removeFailure;
    this.removed.push(handle.id);
  }

  deploy(_spec: CandidateSpec): Promise<CandidateHandle> {
    throw new Error("RecordingServing only removes candidates.");
  }

  scrapeMetrics(_handle: CandidateHandle): Promise<PodMetrics[]> {
    throw new Error("RecordingServing only removes candidates.");
  }

  status(_handle: CandidateHandle): Promise<CandidateStatus> {
    throw new Error("RecordingServing only removes candidates.");
  }

  endpoint(_handle: CandidateHandle): Promise<Endpoint> {
    throw new Error("RecordingServing only removes candidates.");
  }

  scale(): Promise<void> {
    throw new Error("RecordingServing only removes candidates.");
  }

  replicas(): Promise<ReplicaCount> {
    throw new Error("RecordingServing only removes candidates.");
  }

  autoscale(): Promise<AutoscalerChoice> {
    throw new Error("RecordingServing only removes candidates.");
  }

  checkCapacity(): Promise<CapacityCheck> {
    throw new Error("RecordingServing only removes candidates.");
  }
}
