// Lambda entry for the MergeEval Task: merges the shards, scores each suite and gates on it.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { mergeEval } from "../lib/pipeline/merge-eval";

export const handler = stageHandler("MergeEval", mergeEval);
