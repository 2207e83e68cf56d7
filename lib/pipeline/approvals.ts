// Answering a rollout that waits for approval (lib/pipeline/request-approval.ts), whichever way the answer
// comes — `modelship approve|reject`, an "Approve Requested" / "Reject Requested" command on the bus, or the
// version set to Approved / Rejected in the model registry — and releasing a wait that a rollback made moot.
//
// The answer goes to the waiting Task first (SendTaskSuccess, or SendTaskFailure with ApprovalRejected, on
// the token the record keeps), then the record says who answered and forgets the token. In that order, a
// Command retried after a failed write finds the Task answered (the token gone) and does not answer twice.
//
// A rollback while the execution waits (an alarm, a rollback or abort command) undoes the rollout at once;
// the waiting Task is then failed with RolledBack, so the execution goes on to its Rollback (or Cleanup),
// which finds the work done — instead of waiting for its timeout.

import { RolledBack } from "../core/errors";
import type { ApprovalWait, ModelRecord } from "../core/rollout/rollout";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { APPROVAL_STAGE } from "./request-approval";
import {
  rollback,
  ROLLBACK_USES,
  type RollbackDeps,
  type RollbackOutcome,
  type RollbackRequest,
} from "./rollback";
import { runningTransition } from "./running-transition";

/** The stages an answer is recorded under. */
export const APPROVED_STAGE = "Approved";
export const REJECTED_STAGE = "Rejected";

export const ANSWER_APPROVAL_USES = portUse({
  store: ["get", "record"],
  executions: ["sendTaskSuccess", "sendTaskFailure"],
  clock: ["now"],
});

type AnswerDeps = DepsUsing<typeof ANSWER_APPROVAL_USES>;

/** An answer to a waiting rollout. */
export interface ApprovalAnswer {
  readonly model: string;
  readonly decision: "approve" | "reject";
  /** Who answered: the caller's identity as the path it came by knows it. */
  readonly by: string;
  readonly reason?: string;
  /** `command` (the CLI, a bus command) or `registry` (the model registry's status). */
  readonly via: "command" | "registry";
  /** Only this rollout's wait (the registry names the rollout its version belongs to). */
  readonly rolloutId?: string;
}

export interface AnswerOutcome {
  readonly status: "done" | "nothing to do" | "refused";
  readonly message: string;
}

/** The rollout's wait, when the rollout holding the model's lock waits for approval. */
export function waitingApproval(record: ModelRecord | undefined): ApprovalWait | undefined {
  const wait = record?.approval;
  return wait && record.lock?.rolloutId === wait.rolloutId ? wait : undefined;
}

export async function answerApproval(answer: ApprovalAnswer, deps: AnswerDeps): Promise<AnswerOutcome> {
  const { model, decision, by } = answer;
  const record = await deps.store.get(model);
  const wait = waitingApproval(record);
  const verb = decision === "approve" ? "approve" : "reject";
  if (!record?.lock) {
    return { status: "refused", message: `No rollout of ${model} is running: there is nothing to ${verb}.` };
  }
  if (!wait || (answer.rolloutId !== undefined && answer.rolloutId !== wait.rolloutId)) {
    const { version, rolloutId } = record.lock;
    const other = answer.rolloutId !== undefined && answer.rolloutId !== rolloutId;
    return {
      status: other ? "nothing to do" : "refused",
      message: other
        ? `The answer is for rollout ${answer.rolloutId}, but the rollout of ${model} running now is ${rolloutId} (${version}): nothing to ${verb}.`
        : `${model} ${version} is not waiting for approval: ${notWaitingBecause(record, rolloutId)}`,
    };
  }
  const said = answer.reason ? `: ${answer.reason}` : "";
  const how = answer.via === "registry" ? " in the model registry" : "";
  const reason =
    decision === "approve"
      ? `Approved by ${by}${how}${said}.`
      : `${model} ${wait.version} was rejected by ${by}${how}${said}.`;
  const at = deps.clock.now().toISOString();
  const answered =
    decision === "approve"
      ? await deps.executions.sendTaskSuccess(wait.token, {
          approvedBy: by,
          via: answer.via,
          at,
          ...(answer.reason ? { reason: answer.reason } : {}),
        })
      : await deps.executions.sendTaskFailure(wait.token, "ApprovalRejected", reason);
  if (!answered) {
    return {
      status: "nothing to do",
      message: `${model} ${wait.version} no longer waits for approval: it was answered already, or its wait timed out at ${wait.expiresAt}. \`modelship status ${model}\` shows what happened.`,
    };
  }
  try {
    await deps.store.record(
      model,
      {
        ...runningTransition(
          { id: wait.rolloutId, version: wait.version },
          decision === "approve" ? APPROVED_STAGE : REJECTED_STAGE,
          reason,
          deps.clock,
        ),
        at,
      },
      { approval: null },
      { owned: true },
    );
  } catch (error) {
    // Rolled back meanwhile: the rollback recorded the end, and the Task's answer changes nothing.
    if (!(error instanceof RolledBack)) throw error;
  }
  return {
    status: "done",
    message:
      decision === "approve"
        ? `${reason} ${model} ${wait.version} goes on ${wait.at === "beforeTraffic" ? "to its canary" : "to its promotion"}.`
        : `${reason} The rollout is being rolled back.`,
  };
}

/** A rollback from outside the execution, and the release of its wait for approval. */
export const ROLLBACK_RELEASING_USES = combinedUse(
  ROLLBACK_USES,
  portUse({ executions: ["sendTaskFailure"] }),
);

type RollbackReleasingDeps = RollbackDeps & DepsUsing<typeof ROLLBACK_RELEASING_USES>;

/**
 * `rollback` for an alarm or a command, which run beside the execution: once the rollout is rolled back, a
 * Task waiting for its approval is failed with RolledBack, so the execution leaves its wait now. The record
 * keeps the wait's token after the rollback (the lock is gone, so nothing shows it as waiting) for this, and
 * for a retry after a failed send.
 */
export async function rollbackReleasingApproval(
  request: Exclude<RollbackRequest, { by: "state machine" }>,
  deps: RollbackReleasingDeps,
): Promise<RollbackOutcome> {
  const outcome = await rollback(request, deps);
  if (outcome.result === "nothing to roll back" || outcome.model === undefined) return outcome;
  const wait = (await deps.store.get(outcome.model))?.approval;
  if (!wait || wait.rolloutId !== outcome.rolloutId) return outcome;
  const released = await deps.executions.sendTaskFailure(wait.token, "RolledBack", outcome.reason);
  return released
    ? { ...outcome, reason: `${outcome.reason} Its execution stopped waiting for approval.` }
    : outcome;
}

function notWaitingBecause(record: ModelRecord, rolloutId: string): string {
  const answered = record.history.findLast(
    (t) => t.rolloutId === rolloutId && [APPROVED_STAGE, REJECTED_STAGE, APPROVAL_STAGE].includes(t.stage),
  );
  if (answered && answered.stage !== APPROVAL_STAGE) return `${answered.reason}`;
  return "it asks for approval only where its manifest says (rollout.approval), and is not there now. `modelship status` shows where it is.";
}
