// Lambda entry for the StressWorker Task: one load worker's share of the stress test against the candidate.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { stressWorker } from "../lib/pipeline/stress-worker";

export const handler = stageHandler("StressWorker", stressWorker);
