// Lambda entry for the Promote Task: the candidate takes 100%, is approved in the registry and becomes the stable version.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { promote } from "../lib/pipeline/promote";

export const handler = stageHandler("Promote", promote);
