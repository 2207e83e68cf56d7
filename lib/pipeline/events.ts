// Builds the events stages emit, so every one carries the same identifying fields (model, version,
// rolloutId, executionArn, stage) that users' EventBridge rules match on, and the rest of its detail-type's
// schema (core/events/events.ts): a field the published schema does not describe does not compile.

import type { EmittedDetailType, EventDetailOf, ModelshipEvent } from "../core/events/events";
import type { Clock } from "../ports";

/** Who the event is about: the rollout's identity, or what is known of it before one exists. */
export interface EventSubject {
  readonly id: string;
  readonly model: string;
  readonly version: string;
  readonly executionId?: string;
}

/** What an event of detail-type T carries besides who it is about: its failure fields and data. */
export type EventExtra<T extends EmittedDetailType> = Omit<
  EventDetailOf<T>,
  "model" | "version" | "rolloutId" | "executionArn" | "stage" | "message"
>;

/** The data of detail-type T, without the note that replaces it when the event is too large. */
export type DataOf<T extends EmittedDetailType> = Exclude<
  NonNullable<EventDetailOf<T>["data"]>,
  { readonly trimmed: string }
>;

export function rolloutEvent<T extends EmittedDetailType>(
  detailType: T,
  subject: EventSubject,
  stage: string,
  message: string,
  clock: Pick<Clock, "now">,
  extra: EventExtra<T>,
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
