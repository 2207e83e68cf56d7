// Lambda entry for the DeployCandidate Task. Its stage is not built yet: it fails with NotImplementedYet, naming what is missing.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { deployCandidate } from "../lib/pipeline/unbuilt-stages";

export const handler = stageHandler("DeployCandidate", deployCandidate);
