// Reading `$.candidate` (lib/pipeline/flow-state.ts) back out of the execution state, for the stages after
// DeployCandidate. The state crossed a JSON boundary, so its shape is checked, not assumed: a state that
// lacks the handle is a broken flow, and the error says which state and key.

import type { ExecutionState } from "../core/rollout/rollout";
import type { CandidateHandle, CandidateStatus } from "../ports";
import type { CandidateProgress } from "./flow-state";

/** `$.candidate` with its handle checked; throws naming the stage when DeployCandidate's handle is missing. */
export function candidateProgress(state: ExecutionState, stage: string): CandidateProgress {
  const candidate = state.candidate;
  const handle: unknown = candidate?.["handle"];
  if (!isHandle(handle)) {
    throw new Error(
      `${stage} needs $.candidate.handle from DeployCandidate, but the state has ${candidate === undefined ? "no candidate" : `candidate keys [${Object.keys(candidate).join(", ")}] and no usable handle`}.`,
    );
  }
  const checks = candidate?.["readinessChecks"];
  const readiness = candidate?.["readiness"] as CandidateStatus | undefined;
  return {
    handle,
    readinessChecks: typeof checks === "number" ? checks : 0,
    ...(readiness === undefined ? {} : { readiness }),
  };
}

function isHandle(value: unknown): value is CandidateHandle {
  if (typeof value !== "object" || value === null) return false;
  const { id, model, version, rolloutId, servedName, deployedAt } = value as Record<string, unknown>;
  return [id, model, version, rolloutId, servedName, deployedAt].every((v) => typeof v === "string");
}
