// Builds the events stages emit, so every one carries the same identifying fields (model, version,
// rolloutId, executionArn, stage) that users' EventBridge rules match on.

import type { EmittedDetailType, EventDetail, ModelshipEvent } from "../core/events";
import type { Clock } from "../ports";

/** Who the event is about: the rollout's identity, or what is known of it before one exists. */
export interface EventSubject {
  readonly id: string;
  readonly model: string;
  readonly version: string;
  readonly executionId?: string;
}

export function rolloutEvent(
  detailType: EmittedDetailType,
  subject: EventSubject,
  stage: string,
  message: string,
  clock: Clock,
  extra: Pick<EventDetail, "error" | "reason" | "hint" | "data"> = {},
): ModelshipEvent {
  return {
    detailType,
    time: clock.now().toISOString(),
    detail: {
      model: subject.model,
      version: subject.version,
      rolloutId: subject.id,
      executionArn: subject.executionId ?? "",
      stage,
      message,
      ...extra,
    },
  };
}
