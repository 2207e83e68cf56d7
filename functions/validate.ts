// Lambda entry for the Validate state: checks every weight, config and tokenizer file by their headers, without the tensor data.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { validate } from "../lib/pipeline/validate";

export const handler = stageHandler("Validate", validate);
