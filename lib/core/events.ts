// The events modelship emits on its bus (source `modelship`) and the commands it accepts. Users hang
// EventBridge rules on these: the detail-types and detail fields are a public contract.

export const EVENT_SOURCE = "modelship";

export const EMITTED_DETAIL_TYPES = [
  "Rollout Started",
  "Stage Succeeded",
  "Stage Failed",
  "Canary Weight Changed",
  "Model Promoted",
  "Model Rolled Back",
  "Rollout Rejected",
  "Approval Requested",
  "Shadow Started",
  "Shadow Ended",
] as const;
export type EmittedDetailType = (typeof EMITTED_DETAIL_TYPES)[number];

export const COMMAND_DETAIL_TYPES = [
  "Rollout Requested",
  "Rollback Requested",
  "Promote Requested",
  "Abort Requested",
  "Approve Requested",
  "Reject Requested",
] as const;
export type CommandDetailType = (typeof COMMAND_DETAIL_TYPES)[number];

/**
 * The sources a command may come from: the CLI's own, and the one any other sender (a script, a catalog's
 * automation) uses. The bus's rules take commands from these sources only — never modelship's own events —
 * and the bus's policy lets only the pipeline's command principals put them.
 */
export const COMMAND_SOURCES = { cli: "modelship.cli", other: "modelship.commands" } as const;

export interface EventDetail {
  readonly model: string;
  readonly version: string;
  readonly rolloutId: string;
  /** The execution ARN on AWS; the local execution id locally. Empty when nothing was started. */
  readonly executionArn: string;
  /** The state that emitted it (`Start`, `Prepare`, `Validate`, …). */
  readonly stage: string;
  /** A sentence a human understands. */
  readonly message: string;
  /** For failures and rejections: the error name (ASL error). */
  readonly error?: string;
  readonly reason?: string;
  readonly hint?: string;
  /** Anything else worth a rule's while: weights, report keys, finding counts. */
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface ModelshipEvent {
  readonly detailType: EmittedDetailType;
  readonly detail: EventDetail;
  /** ISO timestamp. */
  readonly time: string;
}
