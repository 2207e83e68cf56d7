// Stopping a local execution by hand (Ctrl-C) without leaking: the execution is aborted, the Task handlers
// already running are let finish, and Cleanup runs on the last state, as a Catch would have sent it there —
// so the lock is released, the failure recorded and announced, and the candidate (if any) removed.

import type { CaughtError } from "../core/errors";
import type { ExecutionState } from "../core/rollout/rollout";
import type { ExecutionResult } from "./executor";
import type { LocalExecution } from "./local-executions";

export const INTERRUPTED_ERROR = "Interrupted";

export interface Interruption {
  /** How the execution ended: ABORTED when the interrupt stopped it, else its own end. */
  readonly result: ExecutionResult;
  /** Cleanup's outcome, when Cleanup ran because of the interrupt. */
  readonly cleanup?: unknown;
}

export async function interruptExecution(
  execution: LocalExecution,
  runCleanup: (state: ExecutionState) => Promise<unknown>,
  reason: string,
): Promise<Interruption> {
  execution.abort();
  const result = await execution.result;
  // An execution that ended on its own before the abort took hold has already been through its own path.
  if (result.status !== "ABORTED") return { result };
  const error: CaughtError = {
    Error: INTERRUPTED_ERROR,
    Cause: JSON.stringify({
      errorType: INTERRUPTED_ERROR,
      errorMessage: `${reason}\nHint: Nothing of this rollout is left running; upload or run the version again to retry it.`,
    }),
  };
  const state = { ...(execution.lastState() as ExecutionState), error };
  return { result, cleanup: await runCleanup(state) };
}
