// The CheckCandidate stage, one turn of the readiness loop (WaitForCandidate ⇄ CheckCandidate): reads the
// candidate's status and returns it for `$.candidate.readiness`, where the state machine's Choice reads the
// phase. A candidate that cannot start fails the rollout with CandidateFailed — the classified reason, what
// to do, and the server's last log lines, so the console shows why without a trip to the logs. The
// announcement of the failure is Cleanup's, which the Catch sends it to.

import { CandidateFailed } from "../core/errors";
import type { Finding } from "../core/findings";
import type { ExecutionState } from "../core/rollout/rollout";
import type { CandidateStatus } from "../ports";
import { candidateProgress } from "./candidate-state";
import { ABORT_WATCH_USES, assertNotAborted } from "./abort-watch";
import { combinedUse, type DepsUsing, portUse } from "./port-use";

export const CHECK_CANDIDATE_USES = combinedUse(ABORT_WATCH_USES, portUse({ serving: ["status"] }));

/** A pending status travels in the state on every poll (and into CandidateTimeout's cause): a few lines do. */
const PENDING_LOG_LINES = 5;
const FAILED_LOG_LINES = 40;
const LOG_LINE_CHARS = 300;

export async function checkCandidate(
  state: ExecutionState,
  deps: DepsUsing<typeof CHECK_CANDIDATE_USES>,
): Promise<CandidateStatus> {
  const { handle } = candidateProgress(state, "CheckCandidate");
  const status = await deps.serving.status(handle);
  if (status.phase === "failed") {
    // A candidate an abort removed is gone, not failed: the abort is the rollout's end.
    await assertNotAborted(deps, state.rollout, "CheckCandidate");
    throw candidateFailed(handle.id, status);
  }
  if (status.phase === "ready") {
    return {
      phase: "ready",
      ...(status.readySeconds === undefined ? {} : { readySeconds: status.readySeconds }),
    };
  }
  const logTail = trimLog(status.logTail, PENDING_LOG_LINES);
  return {
    phase: "pending",
    ...(status.reason === undefined ? {} : { reason: status.reason }),
    ...(status.message === undefined ? {} : { message: status.message }),
    ...(status.hint === undefined ? {} : { hint: status.hint }),
    ...(logTail.length ? { logTail } : {}),
  };
}

function candidateFailed(id: string, status: CandidateStatus): CandidateFailed {
  const reason = status.reason ?? "Failed";
  const message = status.message ?? "The candidate's server did not start.";
  const logFindings: Finding[] = trimLog(status.logTail, FAILED_LOG_LINES).map((line) => ({
    severity: "info",
    code: "candidate.log",
    file: `${id} log`,
    message: line,
  }));
  return new CandidateFailed(`${reason}: ${message}`, {
    findings: logFindings,
    hint: status.hint ?? "Read the server's log tail for the first error.",
  });
}

function trimLog(lines: readonly string[] | undefined, count: number): string[] {
  return (lines ?? [])
    .filter((line) => line.trim() !== "")
    .slice(-count)
    .map((line) => (line.length > LOG_LINE_CHARS ? `${line.slice(0, LOG_LINE_CHARS)}…` : line));
}
