// A serializable reference to a deployed model server (a candidate, later the stable version): it travels
// in the execution state and in the rollout record, so any stage — or the Rollback an alarm triggers — can
// reach or remove the workload without asking the platform what exists.

export interface CandidateHandle {
  readonly id: string;
  readonly model: string;
  readonly version: string;
  readonly rolloutId: string;
  readonly servedName: string;
  /** ISO timestamp of the deploy. */
  readonly deployedAt: string;
  /** Adapter-specific, JSON-serializable. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Which of a model's two route slots a backend fills. */
export type Variant = "stable" | "candidate";
