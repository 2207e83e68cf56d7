// The execution state the state machine carries from stage to stage, and the rollout record the rollout
// store keeps per model. Each stage writes only its own key of the state (`ResultPath: $.validation`, …);
// big results go to the object store under reports/ and the state keeps their keys and a summary.

import type { CapacityMode, RolloutStrategy, ShadowSettings, Stickiness } from "../manifest/rollout-settings";
import type { CandidateHandle } from "../candidate";
import type { Finding } from "../findings";
import type { HookRun } from "../gates/hooks";
import type { ApprovalPoint, HookPoint, ResolvedManifest } from "../manifest/manifest-schema";
import type { EvalShardPlan } from "../eval/eval-plan";
import type { GpuPlan } from "../weights/gpu-plan";
import type { ChosenServing } from "../weights/serving-choice";

/** Where a rollout came from: the manifest object that started it. */
export interface RolloutSource {
  readonly bucket: string;
  /** The manifest's key: models/<name>/<version>/modelship.yaml */
  readonly key: string;
  /** models/<name>/<version>/ */
  readonly prefix: string;
  readonly etag?: string;
  readonly versionId?: string;
}

export interface RolloutIdentity {
  /** The execution name: `<model>-<version>-<8 hex>`, unique per upload. */
  readonly id: string;
  readonly model: string;
  readonly version: string;
  readonly source: RolloutSource;
  /** The execution ARN on AWS, the local execution id locally. */
  readonly executionId?: string;
  readonly startedAt?: string;
}

/** The state machine's input, as the Start function builds it. */
export interface ExecutionInput {
  readonly rollout: RolloutIdentity;
}

/** The work the Map states fan out, decided once by Prepare. */
export interface RolloutPlan {
  /** Whether a stable version exists (false = first release: no canary, no regression gates). */
  readonly hasStable: boolean;
  readonly stableVersion?: string;
  readonly gates: { readonly smoke: boolean; readonly stress: boolean; readonly eval: boolean };
  /** One item per stress worker: `{index, of}`. */
  readonly stressWorkers: readonly { readonly index: number; readonly of: number }[];
  /**
   * The prompt set every stress worker sends, as Prepare checked it; null for synthetic prompts or no stress
   * test. Never absent: the StressTest Map's ItemSelector reads it, and a missing path fails the execution.
   */
  readonly stressPrompts: StressPromptSet | null;
  /** One item per eval shard (an Eval Map iteration); empty when the eval gate is off. */
  readonly evalShards: readonly EvalShardPlan[];
  /**
   * How traffic moves (core/traffic/rollout-strategy); absent in plans made before strategies existed: canary.
   */
  readonly strategy?: RolloutStrategy;
  /** The conversation key that keeps a request on one version during the canary (`rollout.stickiness`). */
  readonly stickiness?: Stickiness;
  /** Canary steps with bakes resolved; empty for a first release and for blue/green. */
  readonly canarySteps: readonly { readonly weight: number; readonly bakeSeconds: number }[];
  readonly watchSeconds: number;
  /**
   * Where the execution waits for a person's approval (`never` for `approval: auto`), and how long: the
   * approval Task's TimeoutSecondsPath reads it. Absent in states written before approvals existed.
   */
  readonly approval?: ApprovalPlan;
  /** Upper bound of readiness polls before CandidateTimeout. */
  readonly maxReadinessChecks: number;
  /** Seconds between readiness polls. */
  readonly readinessPollSeconds: number;
  /**
   * How long CheckCapacity may wait for the capacity the rollout needs before InsufficientCapacity
   * (`rollout.capacityWaitSeconds`), and the seconds between its looks (WaitForCapacity reads them).
   */
  readonly capacityWaitSeconds: number;
  readonly capacityPollSeconds: number;
  /**
   * The names of the hooks at each point that has any (core/gates/hooks.ts): the state machine runs a point's
   * hooks only when its key is present. Absent in plans made before hooks existed: none.
   */
  readonly hooks?: Partial<Record<HookPoint, readonly string[]>>;
  /**
   * The shadow phase (core/traffic/shadow.ts) before any user sees the candidate; present only when it runs: the
   * state machine's HasShadow reads it. Absent in plans made before shadows existed: none.
   */
  readonly shadow?: ShadowSettings;
  /** Why the manifest's shadow does not run (a first release has no stable to mirror). */
  readonly shadowSkipped?: string;
}

export interface ApprovalPlan {
  readonly wait: "never" | ApprovalPoint;
  readonly timeoutSeconds: number;
}

/** The stress test's prompt set (`gates.stress.prompts`) as Prepare read and checked it. */
export interface StressPromptSet {
  readonly name: string;
  /** `prompts/<name>.jsonl` in the bucket. */
  readonly key: string;
  /** SHA-256 (hex) of the file, so every worker sends the file Prepare checked. */
  readonly sha256: string;
  /** How many prompts it holds. */
  readonly prompts: number;
}

export interface PrepareResult {
  readonly manifest: ResolvedManifest;
  readonly plan: RolloutPlan;
}

export interface ValidationSummary {
  readonly valid: boolean;
  readonly format: "safetensors" | "gguf";
  readonly parameters: number;
  /** Parameters per dtype, e.g. `{BF16: 8030261248}`. */
  readonly dtypes: Readonly<Record<string, number>>;
  /** Bytes of weights (sum of weight files). */
  readonly weightBytes: number;
  /** Bytes of every file under the prefix. */
  readonly totalBytes: number;
  readonly files: number;
  readonly bytesRead: number;
  readonly requests: number;
  readonly gpu: GpuPlan;
  /**
   * What DeployCandidate serves: the manifest's runtime, image and context where it sets them, the weights'
   * where it does not. Absent only in states written before it existed (the manifest's values then apply).
   */
  readonly serving?: ChosenServing;
  readonly errors: number;
  readonly warnings: number;
  /** The first findings (state payloads stay small); all of them are in the report. */
  readonly findings: readonly Finding[];
  /** Object key of the full report. */
  readonly reportKey?: string;
}

/** The whole execution state. Keys appear as stages complete. */
export interface ExecutionState extends ExecutionInput {
  readonly manifest?: ResolvedManifest;
  readonly plan?: RolloutPlan;
  readonly validation?: ValidationSummary;
  /** CheckCapacity's latest look, before DeployCandidate (`waiting` present: the state machine waits). */
  readonly capacity?: Record<string, unknown>;
  readonly candidate?: Record<string, unknown>;
  readonly smoke?: Record<string, unknown>;
  readonly stress?: Record<string, unknown>;
  readonly eval?: Record<string, unknown>;
  readonly gateway?: Record<string, unknown>;
  /** The shadow phase: StartShadow's progress, CheckShadow's verdict at `check`. */
  readonly shadow?: Record<string, unknown>;
  readonly canary?: Record<string, unknown>;
  /** What a Catch put there: `{Error, Cause}`. */
  readonly error?: { readonly Error: string; readonly Cause?: string };
  readonly outcome?: Record<string, unknown>;
}

export type RolloutStatus = "running" | "promoted" | "rolled_back" | "failed";

export interface LockHolder {
  readonly rolloutId: string;
  readonly version: string;
  readonly executionId?: string;
  /** ISO timestamp. */
  readonly since: string;
  /**
   * The stage that claimed the rollout's end — Rollback, or Finalize after a quiet watch — while it undoes or
   * retires what the rollout changed. From then on no other stage acts for the rollout, and the other of the
   * two finds the end taken: a rollback and a finalization never both happen.
   */
  readonly ending?: EndClaim;
}

/** Who is ending a rollout, since when. */
export interface EndClaim {
  readonly stage: string;
  /** ISO timestamp. */
  readonly at: string;
}

/** One transition of a model's rollout history: what happened, when and why. */
export interface Transition {
  /** ISO timestamp. */
  readonly at: string;
  readonly rolloutId: string;
  readonly version: string;
  /** The state that made the transition, e.g. `Prepare`, `CanaryStep`, `Rollback`. */
  readonly stage: string;
  /** running | promoted | rolled_back | failed, or a finer step like `canary 25%`. */
  readonly status: RolloutStatus;
  /** A sentence a human understands. */
  readonly reason: string;
  readonly weights?: { readonly stable: number; readonly candidate: number };
  /** A RunHooks transition: the hook's run (one transition per hook). */
  readonly hook?: HookRun;
}

/** A version with a workload: what it is, which rollout brought it, and how to reach or remove it. */
export interface ServingVersion {
  readonly version: string;
  readonly rolloutId: string;
  readonly handle: CandidateHandle;
}

/**
 * Where a canary is: the step just applied (1-based) of how many, the candidate's weight, and the
 * conversation key that keeps a request on one version (`rollout.stickiness`) when the rollout has one.
 */
export interface CanaryPosition {
  /** Which strategy's step: linear's or (absent) the canary's. */
  readonly strategy?: "linear";
  readonly step: number;
  readonly steps: number;
  readonly weight: number;
  readonly stickiness?: Stickiness;
}

/**
 * The canary's capacity (core/capacity/capacity-plan), recorded by its first CanaryStep before anything is scaled: the
 * mode and the replicas the stable ran then. Every later step plans from these numbers, and a rollback — at
 * any moment, from any caller — scales the stable back to `stableReplicas` before traffic returns to it. It
 * stays through the watch (the previous stable, scaled down in `constrained`, is what a rollback returns to)
 * and goes with the rollout's end.
 */
export interface CapacityRecord {
  readonly rolloutId: string;
  readonly mode: CapacityMode;
  /** The version whose size this is: the stable when the canary began. */
  readonly stableVersion: string;
  readonly stableReplicas: number;
}

/**
 * A rollout waiting for a person's approval: the task token that resumes its execution (kept here, never in
 * an event), where it waits and until when.
 */
export interface ApprovalWait {
  readonly rolloutId: string;
  readonly version: string;
  /** The Step Functions task token (locally, the local executor's) that SendTaskSuccess/Failure answers. */
  readonly token: string;
  readonly at: ApprovalPoint;
  /** ISO timestamp: since when it waits. */
  readonly since: string;
  /** ISO timestamp: when the wait times out and the rollout is rolled back. */
  readonly expiresAt: string;
}

/** A shadow under way: the candidate answers copies of `percent` of the stable's requests since `since`. */
export interface ShadowPhase extends ShadowSettings {
  readonly rolloutId: string;
  readonly version: string;
  /** ISO timestamp. */
  readonly since: string;
}

/** What serves a model right now, and how it got there. */
export interface ModelRecord {
  readonly model: string;
  readonly lock?: LockHolder;
  readonly stableVersion?: string;
  readonly candidateVersion?: string;
  readonly weights?: { readonly stable: number; readonly candidate: number };
  readonly status?: RolloutStatus;
  /** The stable version's workload (it serves `weights.stable`). */
  readonly stable?: ServingVersion;
  /** The version being rolled out, once it has a workload. */
  readonly candidate?: ServingVersion;
  /** After a promotion, during the watch: the old stable, kept warm so a rollback can return to it. */
  readonly previousStable?: ServingVersion;
  readonly canary?: CanaryPosition;
  /** The candidate's alarms, to read and to remove. */
  readonly alarmNames?: readonly string[];
  /** A `Promote Requested` command waiting for CheckCanary: skip the remaining steps. */
  readonly promoteRequested?: boolean;
  /** Set while the rollout waits for a person's approval; cleared by the answer, a rollback or the timeout. */
  readonly approval?: ApprovalWait;
  /** The canary's capacity mode and the stable's size when it began (set from the first CanaryStep). */
  readonly capacity?: CapacityRecord;
  /** Set while the route mirrors the stable's requests to the candidate; cleared when the shadow ends. */
  readonly shadow?: ShadowPhase;
  readonly updatedAt?: string;
  /** Newest last; the store may keep only the most recent entries. */
  readonly history: readonly Transition[];
}

/**
 * The record as status shows it: a wait for approval without its task token, which resumes the execution
 * and so is shown to nobody (the store's readers with rights on the table are the only ones to see it).
 */
export function recordForDisplay(record: ModelRecord): ModelRecord {
  if (!record.approval) return record;
  const { token: _token, ...approval } = record.approval;
  return { ...record, approval: { ...approval, token: "(hidden)" } };
}

/** The fields a transition may change (RecordChanges); every store keeps exactly these. */
export const RECORD_FIELDS = [
  "stableVersion",
  "candidateVersion",
  "weights",
  "status",
  "stable",
  "candidate",
  "previousStable",
  "canary",
  "alarmNames",
  "promoteRequested",
  "approval",
  "capacity",
  "shadow",
] as const satisfies readonly (keyof ModelRecord)[];

export type RecordField = (typeof RECORD_FIELDS)[number];
