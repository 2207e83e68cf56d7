// Lambda entry for the Cleanup state: after a failure, releases the model's lock, records the outcome and announces it.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { cleanup } from "../lib/pipeline/cleanup";

export const handler = stageHandler("Cleanup", cleanup);
