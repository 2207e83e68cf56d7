// Lambda entry for the hook Tasks (PreTrafficHooks, StepHooks, PrePromoteHooks, PostPromoteHooks): runs the manifest's hooks at one point and judges their answers.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { runHooks } from "../lib/pipeline/run-hooks";

export const handler = stageHandler("RunHooks", runHooks);
