// Lambda entry for the EventBridge rules on the modelship bus's commands (Rollback, Abort, Promote, Approve and
// Reject Requested) and on the Model Registry's status changes (SageMaker Model Package State Change).
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { handleCommand } from "../lib/pipeline/commands";

export const handler = stageHandler("Command", handleCommand);
