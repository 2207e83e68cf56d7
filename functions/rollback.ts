// Lambda entry for the Rollback Task: the state machine's rollback — all traffic back to the version that served before, the candidate removed.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { stateMachineRollback } from "../lib/pipeline/rollback";

export const handler = stageHandler("Rollback", stateMachineRollback);
