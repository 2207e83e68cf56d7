// Lambda entry for the MergeStress Task: merges the workers' histograms and gates on the SLOs and on regression.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { mergeStress } from "../lib/pipeline/merge-stress";

export const handler = stageHandler("MergeStress", mergeStress);
