// Lambda entry for Start: an upload's "Object Created" event or a "Rollout Requested" command starts one named pipeline execution.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { start } from "../lib/pipeline/start";

export const handler = stageHandler("Start", start);
