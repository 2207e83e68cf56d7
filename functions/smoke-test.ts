// Lambda entry for the SmokeTest Task: proves the ready candidate serves: the model list, chat, completion and streaming, judged prompt by prompt.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { smokeTest } from "../lib/pipeline/smoke-test";

export const handler = stageHandler("SmokeTest", smokeTest);
