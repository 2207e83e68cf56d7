// Lambda entry for the CheckCandidate Task: one readiness check of the candidate: its status, or CandidateFailed with the reason, a hint and the log tail.
import { stageHandler } from "../lib/aws/lambda/stage-handler";
import { checkCandidate } from "../lib/pipeline/check-candidate";

export const handler = stageHandler("CheckCandidate", checkCandidate);
