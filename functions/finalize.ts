// Lambda entry for the Finalize Task: after a quiet watch, retires the previous stable, removes the alarms and the prober, releases the lock.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { finalize } from "../lib/pipeline/finalize";

export const handler = stageHandler("Finalize", finalize);
