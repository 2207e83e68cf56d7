// Middleware: puts the rollout's identity (id, model, version) from the execution state on every log line
// and on the trace, so one rollout's logs can be found across all its functions.

import type { MiddlewareObj } from "@middy/core";
import { logger, tracer } from "./powertools";

interface RolloutKeys {
  readonly rolloutId: string;
  readonly model: string;
  readonly version: string;
}

/** The rollout identity of a pipeline event (`{rollout: {id, model, version}, …}`), when it carries one. */
function rolloutKeysOf(event: unknown): RolloutKeys | undefined {
  if (!event || typeof event !== "object" || !("rollout" in event)) return undefined;
  const rollout = event.rollout as { id?: unknown; model?: unknown; version?: unknown } | null;
  if (!rollout || typeof rollout !== "object") return undefined;
  const { id, model, version } = rollout;
  if (typeof id !== "string" || typeof model !== "string" || typeof version !== "string") return undefined;
  return { rolloutId: id, model, version };
}

export function rolloutContext(): MiddlewareObj {
  return {
    before: ({ event }) => {
      const keys = rolloutKeysOf(event);
      if (!keys) return;
      logger.appendKeys({ ...keys });
      for (const [key, value] of Object.entries(keys)) tracer.putAnnotation(key, value);
    },
  };
}
