// What a long stage does when the execution running it is stopped (Interruptible.signal): it stops at once
// and throws Interrupted — what it measured so far is partial, so it is neither judged nor stored.

import { Interrupted } from "../core/errors";

/** Throws Interrupted when the signal has aborted. */
export function throwIfInterrupted(signal: AbortSignal | undefined, doing: string): void {
  if (signal?.aborted) throw interrupted(doing);
}

/** The error to throw for a failure of `doing`: Interrupted when it was the signal that stopped it. */
export function interruptedOr(error: unknown, signal: AbortSignal | undefined, doing: string): unknown {
  return signal?.aborted ? interrupted(doing) : error;
}

function interrupted(doing: string): Interrupted {
  return new Interrupted(`The rollout was stopped during ${doing}; what was measured is discarded.`);
}
