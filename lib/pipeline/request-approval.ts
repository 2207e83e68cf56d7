// RequestApproval: the function a `.waitForTaskToken` Task calls when a rollout waits for a person
// (`rollout.approval: manual`) — before any traffic moves to the candidate, or before its promotion. It keeps
// the Task's token in the rollout record (never in an event: whoever holds it can resume the execution),
// with where the rollout waits and until when, and announces "Approval Requested" with the gates' summaries
// and the reports. The execution then waits, the canary holding its weight and its alarms armed, until
// someone approves or rejects (lib/pipeline/approvals.ts), an alarm rolls it back, or the Task times out.
//
// A retried Task brings a new token: the record then keeps the newest, which is the one the Task waits on.

import type { ApprovalPoint } from "../core/manifest/manifest-schema";
import type { ExecutionState, ModelRecord } from "../core/rollout/rollout";
import { ANNOUNCE_USES, announcePending } from "./announce";
import { rolloutEvent } from "./events";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { gateSummaries, reportUrisOf } from "./register-gateway";
import { FENCE_USES, RolloutFence } from "./rollout-fence";
import { runningTransition } from "./running-transition";

/** The Payload the approval Tasks send (statemachines/pipeline.asl.json). */
export interface ApprovalRequest {
  readonly state: ExecutionState;
  /** `$$.Task.Token`: what SendTaskSuccess / SendTaskFailure answer. */
  readonly token: string;
  readonly at: ApprovalPoint;
  /** The Task's own timeout (its TimeoutSecondsPath), to say until when it waits. */
  readonly timeoutSeconds: number;
}

/** What the function returns (Step Functions does not keep it: the Task's result is the approval's answer). */
export interface ApprovalRequested {
  readonly at: ApprovalPoint;
  readonly expiresAt: string;
}

/** The stage that records the wait, in the history and the events. */
export const APPROVAL_STAGE = "WaitForApproval";

export const REQUEST_APPROVAL_USES = combinedUse(
  ANNOUNCE_USES,
  FENCE_USES,
  portUse({ objects: { location: [] }, clock: ["now"] }),
);

type RequestApprovalDeps = DepsUsing<typeof REQUEST_APPROVAL_USES>;

export async function requestApproval(
  request: ApprovalRequest,
  deps: RequestApprovalDeps,
): Promise<ApprovalRequested> {
  const { state, token, at, timeoutSeconds } = request;
  const { rollout } = state;
  const fence = new RolloutFence(deps.store, rollout, APPROVAL_STAGE);
  const record = await fence.check();
  const waiting = record.approval;
  if (waiting?.rolloutId === rollout.id && waiting.token === token) {
    // A repeated call for the same attempt: recorded already; announce what may still be pending.
    await announcePending(deps, rollout.model, rollout.id);
    return { at, expiresAt: waiting.expiresAt };
  }
  const now = deps.clock.now();
  const since = now.toISOString();
  const expiresAt = new Date(now.getTime() + timeoutSeconds * 1000).toISOString();
  const message = `${rollout.model} ${rollout.version} waits for approval ${where(at, record)}, until ${expiresAt} (then it is rolled back). Approve with \`modelship approve ${rollout.model}\` or reject with \`modelship reject ${rollout.model}\`, send "Approve Requested" or "Reject Requested", or set its model registry version to Approved or Rejected.`;
  await fence.record(
    { ...runningTransition(rollout, APPROVAL_STAGE, message, deps.clock), at: since },
    { approval: { rolloutId: rollout.id, version: rollout.version, token, at, since, expiresAt } },
    {
      announce: [
        rolloutEvent("Approval Requested", rollout, APPROVAL_STAGE, message, deps.clock, {
          data: {
            at,
            since,
            expiresAt,
            timeoutSeconds,
            weights: record.weights ?? null,
            canary: record.canary ?? null,
            stableVersion: record.stable?.version ?? null,
            gates: gateSummaries(state),
            reportUris: reportUrisOf(state, deps.objects.location),
          },
        }),
      ],
    },
  );
  await announcePending(deps, rollout.model, rollout.id);
  return { at, expiresAt };
}

/** Where the rollout holds, in a clause. */
function where(at: ApprovalPoint, record: ModelRecord): string {
  if (at === "beforeTraffic") {
    return `before any traffic moves to it${record.stable ? ` (${record.stable.version} serves 100%)` : ""}`;
  }
  const { canary, weights, stable } = record;
  if (!canary) return "before its promotion to 100%";
  return `before its promotion, holding ${canary.weight}% (${stable?.version ?? "stable"} at ${weights?.stable ?? 100 - canary.weight}%) with its alarms armed`;
}
