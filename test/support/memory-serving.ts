// An in-memory Serving port: candidates are entries in a map, keyed like a real adapter keys its workload
// (model, version, rollout), so deploying twice adopts the first. Their status is whatever the test sets,
// their endpoint is the base URL the test gives (a small HTTP server answering like a model server), and their
// pods' /metrics what the test sets.

import type {
  AutoscalerChoice,
  AutoscalingSettings,
  CandidateHandle,
  CandidateSpec,
  CandidateStatus,
  CapacityCheck,
  CapacityNeed,
  Endpoint,
  ReplicaCount,
  ReplicaRange,
  PodMetrics,
  Serving,
} from "../../lib/ports";
import type { Clock } from "../../lib/ports";

export class MemoryServing implements Serving {
  /** Every spec deploy was called with, in order. */
  readonly deployed: CandidateSpec[] = [];
  readonly removed: string[] = [];
  private readonly candidates = new Map<string, { handle: CandidateHandle; status: CandidateStatus }>();

  constructor(
    private readonly clock: Clock,
    private readonly endpointFor: (handle: CandidateHandle) => Endpoint = (handle) => ({
      baseUrl: "http://127.0.0.1:9/v1",
      headers: {},
      servedName: handle.servedName,
    }),
  ) {}

  async deploy(spec: CandidateSpec): Promise<CandidateHandle> {
    this.deployed.push(structuredClone(spec));
    const id = `${spec.model}-${spec.version}-${spec.rolloutId.slice(-8)}`;
    const existing = this.candidates.get(id);
    if (existing) return existing.handle;
    const handle: CandidateHandle = {
      id,
      model: spec.model,
      version: spec.version,
      rolloutId: spec.rolloutId,
      servedName: spec.servedName,
      deployedAt: this.clock.now().toISOString(),
      details: { entry: id },
    };
    this.candidates.set(id, { handle, status: { phase: "pending", reason: "Starting" } });
    return handle;
  }

  async status(handle: CandidateHandle): Promise<CandidateStatus> {
    const candidate = this.candidates.get(handle.id);
    if (!candidate) return { phase: "failed", reason: "NotFound", message: `No candidate ${handle.id}.` };
    return structuredClone(candidate.status);
  }

  async endpoint(handle: CandidateHandle): Promise<Endpoint> {
    return this.endpointFor(handle);
  }

  /** What each version's pods answer on /metrics (by version); throw to fail the listing. */
  podMetrics: (handle: CandidateHandle) => PodMetrics[] = () => [];

  async scrapeMetrics(handle: CandidateHandle): Promise<PodMetrics[]> {
    if (!this.candidates.has(handle.id)) return [];
    return structuredClone(this.podMetrics(handle));
  }

  /** Every scale call, in order, as `<id> → <replicas>`. */
  readonly scaled: string[] = [];
  /** Replicas per candidate id; ready follows desired unless a test holds them back in `unready`. */
  private readonly counts = new Map<string, number>();
  /** Replicas per candidate id that are not ready yet. */
  readonly unready = new Map<string, number>();
  /** Autoscalers per candidate id. */
  readonly autoscalers = new Map<string, { settings: AutoscalingSettings; range: ReplicaRange }>();
  /** Free GPUs the cluster reports to checkCapacity (a finite number, as a cluster reports: events carry it). */
  freeGpus = 1024;

  async scale(handle: CandidateHandle, replicas: number | "autoscaled"): Promise<void> {
    this.scaled.push(`${handle.id} → ${replicas}`);
    const autoscaler = this.autoscalers.get(handle.id);
    this.counts.set(
      handle.id,
      replicas === "autoscaled" ? (autoscaler?.range.minReplicas ?? this.count(handle.id)) : replicas,
    );
  }

  async replicas(handle: CandidateHandle): Promise<ReplicaCount> {
    const desired = this.count(handle.id);
    return { desired, ready: Math.max(0, desired - (this.unready.get(handle.id) ?? 0)) };
  }

  async autoscale(
    handle: CandidateHandle,
    settings: AutoscalingSettings,
    range: ReplicaRange,
  ): Promise<AutoscalerChoice> {
    this.autoscalers.set(handle.id, { settings, range });
    return { kind: "hpa", reason: "MemoryServing makes every autoscaler an HPA." };
  }

  /** Every look, in order. */
  readonly capacityLooks: CapacityNeed[] = [];

  async checkCapacity(need: CapacityNeed): Promise<CapacityCheck> {
    this.capacityLooks.push(need);
    const { gpus } = need;
    const enough = gpus <= this.freeGpus;
    return {
      enough,
      neededGpus: gpus,
      freeGpus: this.freeGpus,
      reason: `${gpus} needed, ${this.freeGpus} free.`,
    };
  }

  private count(id: string): number {
    return this.counts.get(id) ?? 1;
  }

  async remove(handle: CandidateHandle): Promise<void> {
    this.autoscalers.delete(handle.id);
    this.counts.delete(handle.id);
    if (this.candidates.delete(handle.id)) this.removed.push(handle.id);
  }

  async removeRollout(_model: string, rolloutId: string): Promise<string[]> {
    const found = [...this.candidates.values()].filter((c) => c.handle.rolloutId === rolloutId);
    for (const { handle } of found) await this.remove(handle);
    return found.map(({ handle }) => `Removed ${handle.id}.`);
  }

  /** What the candidate's platform reports from now on. */
  setStatus(id: string, status: CandidateStatus): void {
    const candidate = this.candidates.get(id);
    if (!candidate) throw new Error(`MemoryServing has no candidate ${id}.`);
    candidate.status = status;
  }

  get running(): string[] {
    return [...this.candidates.keys()];
  }
}
