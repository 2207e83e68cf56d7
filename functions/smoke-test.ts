// Lambda entry for the SmokeTest Task. Its stage is not built yet: it fails with NotImplementedYet, naming what is missing.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { smokeTest } from "../lib/pipeline/unbuilt-stages";

export const handler = stageHandler("SmokeTest", smokeTest);
