// How a gate notices that its rollout was stopped by a command — `modelship abort` or `rollback` during the
// gates — rather than judging a candidate that is being taken away (its workload removed under the load, so
// every request fails): a stage checks the rollout record when it starts, and a long one (the load, the eval)
// checks it every few seconds while it runs, stops at once when the record says the rollout was rolled back
// or no longer holds the model, and throws Aborted with who asked. On AWS this is how the Lambda workers see
// an abort; locally the same.

import { Aborted } from "../core/errors";
import type { ModelRecord, RolloutIdentity } from "../core/rollout/rollout";
import { type DepsUsing, portUse } from "./port-use";
import { holdsLock, recordedTransition, ROLLBACK_STAGE } from "./rollout-record";

/** How often a running gate reads the record to see whether its rollout was stopped. */
export const ABORT_POLL_MS = 3_000;

/** Reads the rollout record: a stop requested while the stage runs shows there. */
export const ABORT_WATCH_USES = portUse({ store: ["get"] });

type WatchDeps = DepsUsing<typeof ABORT_WATCH_USES>;

/** Throws Aborted when the rollout was stopped by a command (or ended by someone else) before the stage ran. */
export async function assertNotAborted(
  deps: WatchDeps,
  rollout: RolloutIdentity,
  stage: string,
): Promise<void> {
  const reason = stoppedReason(await deps.store.get(rollout.model), rollout, stage);
  if (reason !== undefined) throw new Aborted(reason);
}

export interface AbortWatch {
  /** Aborts when the rollout is stopped by a command (or `also` aborts: the execution is stopped). */
  readonly signal: AbortSignal;
  /** Throws Aborted when the watch saw the rollout stopped; call it after the work the signal cut short. */
  throwIfAborted(): void;
  /** Stops polling. */
  stop(): void;
}

/** Reads the record every ABORT_POLL_MS while a long gate runs; `also` is the execution's own stop signal. */
export function watchForAbort(
  deps: WatchDeps,
  rollout: RolloutIdentity,
  stage: string,
  also?: AbortSignal,
): AbortWatch {
  const stopped = new AbortController();
  let reason: string | undefined;
  const timer = setInterval(() => {
    void deps.store.get(rollout.model).then(
      (record) => {
        reason ??= stoppedReason(record, rollout, stage);
        if (reason !== undefined) stopped.abort();
      },
      // An unreadable record is no verdict: the next poll tries again.
      () => undefined,
    );
  }, ABORT_POLL_MS);
  timer.unref();
  return {
    signal: also ? AbortSignal.any([stopped.signal, also]) : stopped.signal,
    throwIfAborted: () => {
      if (reason !== undefined) throw new Aborted(reason);
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * Why the rollout is stopped — the rollback's own reason, with who asked — or undefined while it runs. A
 * record without a lock says nothing either way (the execution's own Cleanup ends it).
 */
function stoppedReason(
  record: ModelRecord | undefined,
  rollout: RolloutIdentity,
  stage: string,
): string | undefined {
  const rolledBack = recordedTransition(record, rollout.id, ROLLBACK_STAGE);
  if (rolledBack) return `${stage} stopped: ${rolledBack.reason}`;
  if (record?.lock?.ending?.stage === ROLLBACK_STAGE && holdsLock(record, rollout.id)) {
    return `${stage} stopped: the rollout is being rolled back (since ${record.lock.ending.at}).`;
  }
  const lock = record?.lock;
  if (lock && lock.rolloutId !== rollout.id) {
    return `${stage} stopped: rollout ${rollout.id} no longer holds the lock of ${rollout.model} (rollout ${lock.rolloutId} of ${lock.version} does), so it was ended by someone else.`;
  }
  return undefined;
}
