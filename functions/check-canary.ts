// Lambda entry for the CheckCanary and CheckWatch Tasks: reads the alarms and the rollout record, and says roll back, promote or go on.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { checkCanary } from "../lib/pipeline/check-canary";

export const handler = stageHandler("CheckCanary", checkCanary);
