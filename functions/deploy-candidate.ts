// Lambda entry for the DeployCandidate Task: creates the candidate's workload — the model server for this version — adopting one that exists.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { deployCandidate } from "../lib/pipeline/deploy-candidate";

export const handler = stageHandler("DeployCandidate", deployCandidate);
