// The parts of the execution state that statemachines/pipeline.asl.json itself reads — Choice rules, Wait
// durations, Map items, Fail causes — and so the shapes the stages on either side of them must return.
// A stage returning something else breaks the flow, not just a type: keep these and the ASL in step.

import type { ResolvedStressGate } from "../core/manifest/manifest-schema";
import type { RolloutIdentity, RolloutPlan, StressPromptSet } from "../core/rollout/rollout";
import type { EvalShardPlan } from "../core/eval/eval-plan";
import type { CaughtError } from "../core/errors";
import type { CandidateHandle, CandidateStatus } from "../ports";

/**
 * `$.capacity`: CheckCapacity's latest look (capacity-wait.ts). `waiting` present: the Choice goes to
 * WaitForCapacity and looks again; absent: DeployCandidate deploys. `since` is the first look's time, from which
 * the bound counts; `refused` is a deploy refused for capacity after a look found enough (DeployCandidate's
 * Catch puts it here and goes back to CheckCapacity).
 */
export interface CapacityProgress {
  readonly enough: boolean;
  /** ISO timestamp of the first look. */
  readonly since: string;
  readonly waitedSeconds: number;
  /** The capacity plan in words. */
  readonly plan: string;
  /** What is needed and free, in a sentence. */
  readonly reason: string;
  readonly neededGpus: number;
  readonly freeGpus: number;
  readonly waiting?: { readonly until: string };
  readonly refused?: CaughtError;
}

/**
 * `$.candidate`: DeployCandidate returns the handle; the state machine wraps it with the readiness checks it
 * has counted (`States.MathAdd`), so the loop stops at `plan.maxReadinessChecks` whatever CheckCandidate says.
 */
export interface CandidateProgress {
  readonly handle: CandidateHandle;
  readonly readinessChecks: number;
  /** CheckCandidate's latest answer (`$.candidate.readiness`); `phase: "ready"` leaves the loop. */
  readonly readiness?: CandidateStatus;
}

/** What CheckCanary returns: after each bake (`$.canary.check`) and after the watch (`$.outcome.watch`). */
export interface CanaryCheck {
  /** An alarm fired, or a rollback or abort was requested: go to Rollback. */
  readonly rollback: boolean;
  /** A promotion was requested: skip the remaining steps. */
  readonly promote: boolean;
  /** A sentence a user reads. */
  readonly reason: string;
}

/** What CanaryStep returns (`$.canary`). The canary ends after the bake of step `steps`. */
export interface CanaryProgress {
  /** 1-based index into `plan.canarySteps` of the step just applied. */
  readonly step: number;
  /** How many steps the plan has. */
  readonly steps: number;
  readonly weight: number;
  /** The Bake state waits this long. */
  readonly bakeSeconds: number;
  readonly check?: CanaryCheck;
  /**
   * Present while the next step waits for the candidate's new replicas to be ready: its weight has not moved,
   * so `step`, `weight` and `bakeSeconds` are still the step applied before (step 0 before the first). The
   * state machine waits `plan.readinessPollSeconds` and calls CanaryStep again.
   */
  readonly scaling?: CanaryScaling;
}

/** What a canary step waits for before its weight moves (lib/pipeline/canary-capacity.ts). */
export interface CanaryScaling {
  /** The step (1-based) and weight waiting to be applied. */
  readonly step: number;
  readonly weight: number;
  /** The candidate's replicas the weight needs, and how many were ready at the last look. */
  readonly replicas: number;
  readonly ready: number;
  /** Looks so far; past `plan.maxReadinessChecks` the step fails with CandidateTimeout. */
  readonly checks: number;
  /** ISO timestamp of the first look that found them not ready. */
  readonly since: string;
  readonly reason: string;
}

/** What Promote, Finalize, Rollback and Cleanup return (`$.outcome`). */
export interface RolloutOutcome {
  /** A sentence a user reads; Rollback's becomes the cause of the execution's `RolledBack` failure. */
  readonly reason: string;
  /** After the watch window: CheckCanary's verdict. */
  readonly watch?: CanaryCheck;
}

/** One StressTest Map item: what one load worker is given. Its result must stay small (a summary and a report key). */
export interface StressWorkerInput {
  readonly rollout: RolloutIdentity;
  readonly candidate: CandidateHandle;
  readonly gate: ResolvedStressGate;
  readonly worker: RolloutPlan["stressWorkers"][number];
  /** `$.plan.stressPrompts`: the prompt set to send, as Prepare checked it; null for synthetic prompts. */
  readonly prompts?: StressPromptSet | null;
}

/** One Eval Map item: one shard of one suite (`$.plan.evalShards`). Its result must stay small (counts and a report key). */
export interface EvalShardInput {
  readonly rollout: RolloutIdentity;
  readonly candidate: CandidateHandle;
  readonly shard: EvalShardPlan;
}
