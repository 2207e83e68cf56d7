// Lambda entry for the CanaryStep Task: moves the weights to the next canary step, arming the alarms and the prober at the first.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { canaryStep } from "../lib/pipeline/canary-step";

export const handler = stageHandler("CanaryStep", canaryStep);
