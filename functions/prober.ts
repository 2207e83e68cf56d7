// Lambda entry for the prober, invoked once a minute by its EventBridge Scheduler schedule with the ProberTarget as input: a minute of probe rounds.
import { setTimeout as sleep } from "node:timers/promises";
import { logger } from "../lib/aws/lambda/powertools";
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import type { TrafficWindows } from "../lib/core/prometheus/traffic-window";
import type { ProberTarget } from "../lib/ports";
import { probeMinute, trafficWindowsFor } from "../lib/pipeline/probe";

/**
 * The pods' previous scrapes live as long as the container: a warm container's next invocation (a minute
 * later) takes the increase over its last round, a cold one starts from a baseline — one window lost.
 */
let traffic: TrafficWindows | undefined;

export const handler = stageHandler("Prober", async (target: ProberTarget, deps) => {
  traffic ??= trafficWindowsFor(deps.config);
  const minute = await probeMinute(target, deps, sleep, { traffic });
  // Rounds that could not probe published errors, and pods that could not be read were counted; the log says why.
  for (const problem of minute.problems ?? []) logger.warn(problem, { target });
  return minute;
});
