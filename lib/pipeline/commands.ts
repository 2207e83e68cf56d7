// The commands modelship takes on its bus (and from `modelship rollback|abort|promote|approve|reject`):
// `Rollback Requested` and `Abort Requested` roll the model's running rollout back (the same Rollback as the
// alarms and the state machine use, releasing a wait for approval); `Promote Requested` asks the running
// canary to skip its remaining steps — the request waits in the rollout record until CheckCanary, after the
// current bake, promotes; `Approve Requested` and `Reject Requested` answer a rollout waiting for approval
// (lib/pipeline/approvals.ts), as does a "SageMaker Model Package State Change" to Approved or Rejected of the
// version it waits with — whose rollout, reason and author are read from the registry, not from the event. Each
// command's detail is checked, and the answer says what was done, or why nothing was.

import { z } from "zod";
import { RolledBack } from "../core/errors";
import type { Finding } from "../core/findings";
import { MODEL_NAME_PATTERN } from "../core/manifest/manifest-schema";
import { findingsFromSchemaIssues } from "../core/schema-findings";
import { suggestNearest } from "../core/suggest";
import { findingsSentence } from "./findings-text";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import {
  ANSWER_APPROVAL_USES,
  answerApproval,
  ROLLBACK_RELEASING_USES,
  rollbackReleasingApproval,
} from "./approvals";
import type { RollbackDeps } from "./rollback";
import { PROMOTE_REQUESTED_STAGE } from "./rollout-record";
import { runningTransition } from "./running-transition";

export type CommandName =
  "Rollback Requested" | "Abort Requested" | "Promote Requested" | "Approve Requested" | "Reject Requested";

export const COMMAND_NAMES = [
  "Rollback Requested",
  "Abort Requested",
  "Promote Requested",
  "Approve Requested",
  "Reject Requested",
] as const satisfies readonly CommandName[];

/** A command as EventBridge delivers it (only the fields read here). */
export interface CommandEvent {
  readonly "detail-type": CommandName;
  readonly detail: { readonly model: string; readonly reason?: string; readonly requestedBy?: string };
}

/** The detail-type SageMaker sends a model package's status change as. */
export const REGISTRY_STATE_CHANGE = "SageMaker Model Package State Change";

/**
 * A model registry version's status change, as EventBridge delivers SageMaker's, or the local registry's
 * watcher builds it: only the fields read here, all of which AWS's documented example of the event has
 * (SageMaker Developer Guide, "Events that Amazon SageMaker AI sends to Amazon EventBridge", model package
 * state change): the package's ARN in `resources` and `detail.ModelPackageArn`, and its new status. The example
 * shows no CustomerMetadataProperties, ApprovalDescription or LastModifiedBy, so those are read from the
 * registry (DescribeModelPackage) instead.
 */
export interface RegistryStateChangeEvent {
  readonly "detail-type": typeof REGISTRY_STATE_CHANGE;
  readonly resources?: readonly string[];
  readonly detail: {
    readonly ModelPackageGroupName?: string;
    readonly ModelPackageVersion?: number;
    readonly ModelPackageArn?: string;
    readonly ModelApprovalStatus?: string;
  };
}

export interface CommandOutcome {
  readonly command?: CommandName;
  readonly model?: string;
  /** `refused`: the command does not apply to the model now; `rejected`: the command itself is malformed. */
  readonly status: "done" | "nothing to do" | "refused" | "rejected";
  /** A sentence a user reads. */
  readonly message: string;
  readonly findings?: readonly Finding[];
}

/**
 * Rollback and Abort roll back; Promote marks the rollout record for CheckCanary; a command for a model
 * modelship does not know is refused, naming the models it knows; a registry status change is read from the
 * registry's version.
 */
export const COMMAND_USES = combinedUse(
  ROLLBACK_RELEASING_USES,
  ANSWER_APPROVAL_USES,
  portUse({ store: ["list"], registry: ["describeVersion"] }),
);

type CommandDeps = RollbackDeps & DepsUsing<typeof COMMAND_USES>;

const commandSchema = z.object({
  "detail-type": z.enum(COMMAND_NAMES),
  detail: z.object({
    model: z.string().regex(MODEL_NAME_PATTERN, "a model name: lowercase letters, digits and '-'"),
    reason: z.string().min(1).max(1000).optional(),
    requestedBy: z.string().min(1).max(200).optional(),
  }),
});

export async function handleCommand(
  event: CommandEvent | RegistryStateChangeEvent,
  deps: CommandDeps,
): Promise<CommandOutcome> {
  if (event["detail-type"] === REGISTRY_STATE_CHANGE) return handleRegistryChange(event, deps);
  const parsed = commandSchema.safeParse(event);
  if (!parsed.success) {
    const findings = findingsFromSchemaIssues(parsed.error.issues, event, commandSchema, {
      codePrefix: "command",
    });
    return {
      status: "rejected",
      message: `The command was not carried out: ${findingsSentence(findings)}`,
      findings,
    };
  }
  const { "detail-type": command, detail } = parsed.data;
  // A mistyped name in an incident must not read as "nothing to do".
  if (!(await deps.store.get(detail.model))) {
    return {
      command,
      model: detail.model,
      status: "refused",
      message: await unknownModel(detail.model, deps),
    };
  }
  if (command === "Promote Requested")
    return { command, model: detail.model, ...(await requestPromotion(detail, deps)) };
  if (command === "Approve Requested" || command === "Reject Requested") {
    const outcome = await answerApproval(
      {
        model: detail.model,
        decision: command === "Approve Requested" ? "approve" : "reject",
        by: detail.requestedBy ?? "an operator",
        via: "command",
        ...(detail.reason === undefined ? {} : { reason: detail.reason }),
      },
      deps,
    );
    return { command, model: detail.model, ...outcome };
  }

  const outcome = await rollbackReleasingApproval(
    {
      by: "command",
      command,
      model: detail.model,
      ...(detail.reason === undefined ? {} : { reason: detail.reason }),
      ...(detail.requestedBy === undefined ? {} : { requestedBy: detail.requestedBy }),
    },
    deps,
  );
  return {
    command,
    model: detail.model,
    status: outcome.result === "rolled back" ? "done" : "nothing to do",
    message: outcome.reportProblem ? `${outcome.reason} ${outcome.reportProblem}` : outcome.reason,
  };
}

/**
 * The registry's Approved or Rejected for the version a rollout waits with answers its approval, as the
 * person who set it, with the reason they gave: the version is described (the event does not carry them).
 * Every other status change — modelship's own (registering, promoting, rolling back), another pipeline's or
 * team's package, a version not waiting, a status changed again since — changes nothing. A describe that fails
 * throws: the Command's asynchronous invocation is retried, then kept in its dead-letter queue, and the
 * rollout keeps waiting (until its approval's timeout) rather than being answered by an unknown person.
 */
async function handleRegistryChange(
  event: RegistryStateChangeEvent,
  deps: CommandDeps,
): Promise<CommandOutcome> {
  const status = event.detail?.ModelApprovalStatus;
  if (status !== "Approved" && status !== "Rejected") {
    return {
      status: "nothing to do",
      message: `A registry status of ${String(status)} answers no approval.`,
    };
  }
  const id = event.detail.ModelPackageArn ?? event.resources?.[0];
  if (!id) {
    return {
      status: "nothing to do",
      message: "The registry's status change names no version (no detail.ModelPackageArn, no resources).",
    };
  }
  const described = await deps.registry.describeVersion(id);
  if (!described) {
    return {
      status: "nothing to do",
      message: `The registry has no version ${id} (any more): nothing to answer.`,
    };
  }
  if (described.status !== status) {
    return {
      status: "nothing to do",
      message: `${id} is ${String(described.status)} now, no longer ${status}: the event of its latest change answers.`,
    };
  }
  const rollout = described.rollout;
  if (!rollout || !MODEL_NAME_PATTERN.test(rollout.model)) {
    return {
      status: "nothing to do",
      message: `${id} was not registered by modelship (no modelship:model and modelship:rolloutId): nothing to answer.`,
    };
  }
  const { model, rolloutId } = rollout;
  const outcome = await answerApproval(
    {
      model,
      decision: status === "Approved" ? "approve" : "reject",
      by: described.lastModifiedBy ?? "someone",
      via: "registry",
      rolloutId,
      ...(described.statusReason ? { reason: described.statusReason } : {}),
    },
    deps,
  );
  // A status modelship set itself finds no wait: not worth more than a quiet "nothing to do".
  return { model, ...outcome, status: outcome.status === "refused" ? "nothing to do" : outcome.status };
}

/** `No model named x …`, with the models there are, nearest first when one is close. */
async function unknownModel(model: string, deps: CommandDeps): Promise<string> {
  const known = (await deps.store.list()).map((r) => r.model);
  if (known.length === 0) return `No model named ${model} has been rolled out: modelship knows no model yet.`;
  const nearest = suggestNearest(model, known);
  return `No model named ${model} has been rolled out${nearest ? ` (did you mean ${nearest}?)` : ""}: the models modelship knows are ${known.join(", ")}.`;
}

async function requestPromotion(
  detail: z.infer<typeof commandSchema>["detail"],
  deps: CommandDeps,
): Promise<Pick<CommandOutcome, "status" | "message">> {
  const { model } = detail;
  const record = await deps.store.get(model);
  const lock = record?.lock;
  if (!record || !lock) {
    return {
      status: "refused",
      message: `No rollout of ${model} is running: there is no canary to promote.`,
    };
  }
  const { version, rolloutId } = lock;
  if (record.candidate?.rolloutId !== rolloutId) {
    const promoted = record.status === "promoted" && record.stable?.rolloutId === rolloutId;
    return {
      status: "refused",
      message: promoted
        ? `${model} ${version} is already promoted; its watch is running.`
        : `${model} ${version} is still in its gates: there is no canary to promote yet. Send the command again once it takes traffic.`,
    };
  }
  if (!record.stable) {
    return {
      status: "refused",
      message: `${model} ${version} is a first release: it goes to 100% after its gates, without a canary to skip.`,
    };
  }
  if (record.promoteRequested) {
    return {
      status: "nothing to do",
      message: `A promotion of ${model} ${version} is already requested; CheckCanary promotes it after the current bake.`,
    };
  }
  const who = detail.requestedBy ?? "an operator";
  try {
    await deps.store.record(
      model,
      runningTransition(
        { id: rolloutId, version },
        PROMOTE_REQUESTED_STAGE,
        `A promotion was requested by ${who}${detail.reason ? ` (${detail.reason})` : ""}.`,
        deps.clock,
      ),
      { promoteRequested: true },
      { owned: true },
    );
  } catch (error) {
    if (!(error instanceof RolledBack)) throw error;
    return {
      status: "refused",
      message: `${model} ${version} was rolled back or ended while the promotion was being requested: there is no canary to promote.`,
    };
  }
  const where = record.canary
    ? ` (step ${record.canary.step} of ${record.canary.steps}, ${record.canary.weight}%)`
    : "";
  return {
    status: "done",
    message: `Promotion of ${model} ${version} requested: after the current bake${where}, CheckCanary promotes it, skipping the remaining steps.`,
  };
}
