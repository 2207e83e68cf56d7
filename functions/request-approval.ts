// Lambda entry for the approval Tasks (`.waitForTaskToken`): keeps the Task's token with the rollout record and announces "Approval Requested".
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { requestApproval } from "../lib/pipeline/request-approval";

export const handler = stageHandler("RequestApproval", requestApproval);
