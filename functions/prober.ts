// Lambda entry for the prober, invoked once a minute by its EventBridge Scheduler schedule with the ProberTarget as input: a minute of probe rounds.
import { setTimeout as sleep } from "node:timers/promises";
import { logger } from "../lib/aws/lambda/powertools";
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import type { ProberTarget } from "../lib/ports";
import { probeMinute } from "../lib/pipeline/probe";

export const handler = stageHandler("Prober", async (target: ProberTarget, deps) => {
  const minute = await probeMinute(target, deps, sleep);
  // Rounds that could not probe published errors; the log says why.
  for (const problem of minute.problems ?? []) logger.warn(problem, { target });
  return minute;
});
