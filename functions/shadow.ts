// Lambda entry for the shadow Tasks (StartShadow, CheckShadow, EndShadow): mirrors a share of the stable's requests to the candidate before any user sees it, judges it, and takes the mirror off.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { shadow } from "../lib/pipeline/shadow";

export const handler = stageHandler("Shadow", shadow);
