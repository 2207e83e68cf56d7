// Lambda entry for the CheckCandidate Task. Its stage is not built yet: it fails with NotImplementedYet, naming what is missing.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { checkCandidate } from "../lib/pipeline/unbuilt-stages";

export const handler = stageHandler("CheckCandidate", checkCandidate);
