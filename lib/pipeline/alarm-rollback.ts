// The alarm's way into Rollback on AWS: CloudWatch's "CloudWatch Alarm State Change" event for one of this
// pipeline's alarms (named `<canaryMetrics.alarmPrefix>*`), delivered by an EventBridge rule within seconds of the change — even while the
// execution waits in a Bake or the Watch. The local alarm evaluator calls `rollback` directly.

import { z } from "zod";
import { findingsFromSchemaIssues } from "../core/schema-findings";
import { findingsSentence } from "./findings-text";
import type { StageDeps } from "./deps";
import { ROLLBACK_RELEASING_USES, rollbackReleasingApproval } from "./approvals";
import type { DepsUsing } from "./port-use";
import type { RollbackDeps, RollbackOutcome } from "./rollback";

/** The event as EventBridge delivers it (only the fields read here). */
export interface AlarmStateChangeEvent {
  readonly "detail-type": "CloudWatch Alarm State Change";
  readonly detail: {
    readonly alarmName: string;
    readonly state: { readonly value: string; readonly reason?: string };
  };
}

const alarmStateChangeSchema = z.object({
  "detail-type": z.literal("CloudWatch Alarm State Change"),
  detail: z.object({
    alarmName: z.string().min(1),
    state: z.object({
      value: z.enum(["OK", "ALARM", "INSUFFICIENT_DATA"]),
      reason: z.string().optional(),
    }),
  }),
});

/** Finds the rollout that armed the alarm by its record, rolls it back, and releases a wait for approval. */
export const ALARM_ROLLBACK_USES = ROLLBACK_RELEASING_USES;

export async function rollbackOnAlarm(
  event: AlarmStateChangeEvent,
  deps: RollbackDeps & DepsUsing<typeof ALARM_ROLLBACK_USES> & Pick<StageDeps, "config">,
): Promise<RollbackOutcome> {
  const parsed = alarmStateChangeSchema.safeParse(event);
  if (!parsed.success) {
    const findings = findingsFromSchemaIssues(parsed.error.issues, event, alarmStateChangeSchema, {
      codePrefix: "alarm-event",
    });
    return {
      result: "nothing to roll back",
      reason: `Not a CloudWatch alarm state change modelship can act on: ${findingsSentence(findings)}`,
    };
  }
  const { alarmName, state } = parsed.data.detail;
  const { alarmPrefix } = deps.config.canaryMetrics;
  return rollbackReleasingApproval(
    { by: "alarm", alarmName, alarmPrefix, stateValue: state.value, reason: state.reason ?? "" },
    deps,
  );
}
