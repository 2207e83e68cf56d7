// Announcing what a rollout's writes left in the store's outbox (RecordOptions.announce): each event is
// emitted, then forgotten. A stage calls this after its record is written — and after the lock is released,
// for the transition that ends a rollout — and again when a retry finds its work already recorded, so an
// event is never lost between a write and a failed emit (it may be repeated: events are at-least-once).

import type { ModelRecord } from "../core/rollout/rollout";
import { type DepsUsing, portUse } from "./port-use";
import { recordedTransition } from "./rollout-record";

/** Emits what a rollout's writes left to announce, then forgets it. */
export const ANNOUNCE_USES = portUse({ store: ["pendingEvents", "markAnnounced"], events: ["emit"] });

type AnnounceDeps = DepsUsing<typeof ANNOUNCE_USES>;

/** Emits the rollout's pending events, oldest first; returns how many. */
export async function announcePending(deps: AnnounceDeps, model: string, rolloutId: string): Promise<number> {
  const pending = await deps.store.pendingEvents(model, rolloutId);
  for (const { event } of pending) await deps.events.emit(event);
  if (pending.length > 0)
    await deps.store.markAnnounced(
      model,
      pending.map((p) => p.id),
    );
  return pending.length;
}

/**
 * True when the stage's transition is recorded and announced: a stage announces only after its changes are
 * made, so its work is complete and a retry has nothing to do. A recorded transition whose event is still
 * pending means the stage stopped between the two: a retry makes its (idempotent) changes again.
 */
export async function stageComplete(
  deps: Pick<AnnounceDeps, "store">,
  record: ModelRecord,
  rolloutId: string,
  stage: string,
): Promise<boolean> {
  if (!recordedTransition(record, rolloutId, stage)) return false;
  return (await deps.store.pendingEvents(record.model, rolloutId)).length === 0;
}
