// Lambda entry for the EvalShard Task: one shard of one eval suite against the candidate.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { evalShard } from "../lib/pipeline/eval-shard";

export const handler = stageHandler("EvalShard", evalShard);
