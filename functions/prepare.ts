// Lambda entry for the Prepare state: loads the manifest, takes the model's lock, records and announces the rollout.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { prepare } from "../lib/pipeline/prepare";

export const handler = stageHandler("Prepare", prepare);
