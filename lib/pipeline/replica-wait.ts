// Scaling a version to a count and waiting, bounded, until that many of its replicas are ready: what a stage
// does before traffic moves onto the version (Rollback's restore of a shrunk stable, Promote's full-size
// candidate), so the traffic finds the capacity it needs. The wait is measured, for the stage's reason to say
// how much slower it made the move; past its bound the stage moves traffic regardless, and says how many were
// ready.

import type { CandidateHandle } from "../ports";
import { type DepsUsing, portUse } from "./port-use";

export const REPLICA_WAIT_USES = portUse({ serving: ["scale", "replicas"], clock: ["now", "sleep"] });

type WaitDeps = DepsUsing<typeof REPLICA_WAIT_USES>;

/** Between looks at the version's replicas. */
const POLL_MS = 5_000;

/** A version scaled up: to how many replicas, how many were ready when traffic moved, and after how long. */
export interface ReplicaWait {
  readonly replicas: number;
  readonly ready: number;
  readonly seconds: number;
}

/**
 * Scales `handle` up to `wanted` replicas (never down) and waits at most `maxSeconds` for them to be ready;
 * undefined when it already had them ready (nothing was scaled, nothing waited for).
 */
export async function scaleAndWaitReady(
  handle: CandidateHandle,
  wanted: number,
  maxSeconds: number,
  deps: WaitDeps,
): Promise<ReplicaWait | undefined> {
  let count = await deps.serving.replicas(handle);
  if (count.desired >= wanted && count.ready >= wanted) return undefined;
  const started = deps.clock.now().getTime();
  if (count.desired < wanted) await deps.serving.scale(handle, wanted);
  for (;;) {
    count = await deps.serving.replicas(handle);
    const seconds = Math.round((deps.clock.now().getTime() - started) / 1000);
    if (count.ready >= wanted || seconds >= maxSeconds) {
      return { replicas: wanted, ready: Math.min(count.ready, wanted), seconds };
    }
    await deps.clock.sleep(POLL_MS);
  }
}
