// Middleware: shapes what a failing stage throws for the state machine's Retry and Catch, which match on
// the error's name. Our named errors (lib/core/errors.ts) pass as they are; a passing AWS failure
// (throttling, a 5xx, a dropped connection) becomes `Transient`, which the state machine retries.

import type { MiddlewareObj } from "@middy/core";
import { ModelshipError } from "../../core/errors";
import { asTransientWhenPassing } from "../transient-errors";

export function stepFunctionsErrors(stage: string): MiddlewareObj {
  return {
    onError: (request) => {
      const { error } = request;
      // middy's own "the Lambda is about to time out" error: retrying would only run out of time again.
      if (!error || error instanceof ModelshipError || isMiddyTimeout(error)) return;
      request.error = asTransientWhenPassing(error, stage) as Error;
    },
  };
}

function isMiddyTimeout(error: Error): boolean {
  const cause = error.cause as { package?: unknown } | undefined;
  return error.name === "TimeoutError" && cause?.package === "@middy/core";
}
