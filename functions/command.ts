// Lambda entry for the EventBridge rule on the modelship bus's commands: Rollback Requested, Abort Requested and Promote Requested.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { handleCommand } from "../lib/pipeline/commands";

export const handler = stageHandler("Command", handleCommand);
