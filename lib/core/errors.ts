// The ways a rollout can fail. One class per failure; each class's `name` is the error name the state
// machine's Retry and Catch match on (statemachines/pipeline.asl.json) and what a user reads in the Step
// Functions console. The message is human-readable: a one-line reason, the findings, then `Hint: …`.

import { type Finding, formatFinding, sortFindings } from "./findings";

export const ASL_ERROR_NAMES = [
  "ManifestInvalid",
  "RolloutInProgress",
  "ModelInvalid",
  "CandidateFailed",
  "CandidateTimeout",
  "SmokeFailed",
  "SloViolated",
  "EvalFailed",
  "GatewayFailed",
  "HookFailed",
  "RolledBack",
  "Aborted",
  "Interrupted",
  "Transient",
  "ApprovalRejected",
  "ApprovalTimedOut",
  "InsufficientCapacity",
] as const;

export type AslErrorName = (typeof ASL_ERROR_NAMES)[number];

/** Step Functions caps an error's cause at 32,768 characters; the message keeps well inside it. */
const MAX_MESSAGE_CHARS = 24_000;

export interface ModelshipErrorOptions {
  /** What to do about it. */
  readonly hint?: string;
  /** Every finding behind the failure (all of them, not just the first). */
  readonly findings?: readonly Finding[];
  readonly cause?: unknown;
}

export abstract class ModelshipError extends Error {
  abstract override readonly name: AslErrorName;
  /** One sentence: what went wrong. */
  readonly reason: string;
  readonly hint: string | undefined;
  readonly findings: readonly Finding[];

  constructor(reason: string, options: ModelshipErrorOptions = {}) {
    super(
      composeMessage(reason, options),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.reason = reason;
    this.hint = options.hint;
    this.findings = options.findings ?? [];
  }
}

function composeMessage(reason: string, { hint, findings = [] }: ModelshipErrorOptions): string {
  const lines = [reason, ...sortFindings(findings).map(formatFinding)];
  if (hint) lines.push(`Hint: ${hint}`);
  const message = lines.join("\n");
  if (message.length <= MAX_MESSAGE_CHARS) return message;
  const tail = hint ? `\nHint: ${hint}` : "";
  return `${message.slice(0, MAX_MESSAGE_CHARS - tail.length - 40)}\n… (truncated; see the report)${tail}`;
}

/** The manifest cannot be read or does not match the schema. */
export class ManifestInvalid extends ModelshipError {
  override readonly name = "ManifestInvalid" as const;
}

/** Another rollout of the same model holds the lock. */
export class RolloutInProgress extends ModelshipError {
  override readonly name = "RolloutInProgress" as const;
  constructor(
    reason: string,
    readonly holder: { readonly rolloutId: string; readonly version: string; readonly since: string },
    options: ModelshipErrorOptions = {},
  ) {
    super(reason, options);
  }
}

/** The weights, config or tokenizer are not a servable model. */
export class ModelInvalid extends ModelshipError {
  override readonly name = "ModelInvalid" as const;
}

/** The candidate workload failed to start (image pull, scheduling, OOM, crash …). */
export class CandidateFailed extends ModelshipError {
  override readonly name = "CandidateFailed" as const;
}

/** The candidate did not become ready within its startup budget. */
export class CandidateTimeout extends ModelshipError {
  override readonly name = "CandidateTimeout" as const;
}

/** The candidate serves, but its answers are wrong or degenerate. */
export class SmokeFailed extends ModelshipError {
  override readonly name = "SmokeFailed" as const;
}

/** The stress test measured a latency, throughput or error-rate SLO breach. */
export class SloViolated extends ModelshipError {
  override readonly name = "SloViolated" as const;
}

/** An eval suite scored below its minimum or regressed against the stable version. */
export class EvalFailed extends ModelshipError {
  override readonly name = "EvalFailed" as const;
}

/** The gateway route or the model registry could not be updated. */
export class GatewayFailed extends ModelshipError {
  override readonly name = "GatewayFailed" as const;
}

/**
 * A rollout hook (gates.hooks) answered fail, could not be reached, or did not answer in time; the reason names
 * the hook and the point it ran at. Before any traffic the rollout stops (Cleanup); after, it rolls back.
 */
export class HookFailed extends ModelshipError {
  override readonly name = "HookFailed" as const;
}

/**
 * The rollout no longer owns its model: it was rolled back (by its alarm, a command or the state machine) or
 * ended by someone else while this stage ran. The stage stopped without leaving side effects; the state
 * machine goes on to Rollback, which finds the work done and ends the execution as `RolledBack`.
 */
export class RolledBack extends ModelshipError {
  override readonly name = "RolledBack" as const;
}

/**
 * The rollout was stopped during its gates by a command — `Abort Requested` or `Rollback Requested` — and the
 * gate that was running stopped too: what it had measured of a candidate being taken away is not judged. The
 * reason says who asked, and why.
 */
export class Aborted extends ModelshipError {
  override readonly name = "Aborted" as const;
}

/**
 * The execution running the stage was stopped (locally: Ctrl-C, a stopping control plane) while the stage
 * worked: it stopped at once, and what it had measured is discarded rather than judged.
 */
export class Interrupted extends ModelshipError {
  override readonly name = "Interrupted" as const;
}

/** A passing failure (throttling, a 5xx, a timeout talking to a dependency): the state machine retries it. */
export class Transient extends ModelshipError {
  override readonly name = "Transient" as const;
}

/**
 * A person rejected the rollout while it waited for approval (`modelship reject`, a `Reject Requested`
 * command, or the version set to Rejected in the model registry): the Command answers the waiting Task with
 * this error, and the execution rolls back (or, before traffic, cleans up).
 */
export class ApprovalRejected extends ModelshipError {
  override readonly name = "ApprovalRejected" as const;
}

/** Nobody approved or rejected the rollout within `rollout.approval.timeoutSeconds` (the state machine names it). */
export class ApprovalTimedOut extends ModelshipError {
  override readonly name = "ApprovalTimedOut" as const;
}

/** What a Catch hands the next state: `{Error, Cause}`; on AWS, Cause is the Lambda error JSON. */
export interface CaughtError {
  readonly Error: string;
  readonly Cause?: string;
}

export interface FailureDescription {
  readonly error: string;
  readonly reason: string;
  readonly hint?: string;
  /** The whole message, findings included. */
  readonly message: string;
}

/**
 * Reads a caught error in either shape Step Functions produces: a Lambda error
 * (`Cause` = `{"errorType","errorMessage","trace"}` JSON) or a plain string cause (States.* errors).
 */
export function describeCaughtError(caught: CaughtError | undefined): FailureDescription {
  if (!caught) return { error: "Unknown", reason: "The execution failed without an error.", message: "" };
  let message = caught.Cause ?? "";
  try {
    const parsed: unknown = JSON.parse(message);
    if (parsed && typeof parsed === "object" && "errorMessage" in parsed) {
      message = String((parsed as { errorMessage: unknown }).errorMessage);
    }
  } catch {
    // A plain-text cause: keep it as it is.
  }
  const lines = message.split("\n");
  const hintLine = lines.findLast((l) => l.startsWith("Hint: "));
  const reason = lines[0]?.trim() || caught.Error;
  return hintLine
    ? { error: caught.Error, reason, hint: hintLine.slice("Hint: ".length), message }
    : { error: caught.Error, reason, message };
}

/**
 * The cluster has not the GPUs (locally: the server slots) the rollout's capacity plan needs at its peak, and
 * did not get them within rollout.capacityWaitSeconds: nothing was deployed.
 */
export class InsufficientCapacity extends ModelshipError {
  override readonly name = "InsufficientCapacity" as const;
}
