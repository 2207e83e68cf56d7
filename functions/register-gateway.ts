// Lambda entry for the RegisterGateway Task: puts the candidate on the model's route at weight 0 and registers the version in the model registry.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { registerGateway } from "../lib/pipeline/register-gateway";

export const handler = stageHandler("RegisterGateway", registerGateway);
