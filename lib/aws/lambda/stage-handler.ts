// Turns a stage function (lib/pipeline) into a Lambda handler: the stage gets the event and the AWS stage
// dependencies; middy middlewares add what every function needs around it — Powertools logs with the
// rollout's identity, metrics per stage, tracing, and the error shapes the state machine matches on.

import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { StageDeps } from "../../pipeline/deps";
import { logger, metrics, tracer } from "./powertools";
import { rolloutContext } from "./rollout-context";
import { awsStageDeps } from "./stage-deps";
import { stageOutcome } from "./stage-outcome";
import { stepFunctionsErrors } from "./step-functions-errors";

/** `stage` names the function in logs and metrics (`Validate`, `Start`). */
export function stageHandler<Input, Output>(
  stage: string,
  run: (input: Input, deps: StageDeps) => Promise<Output>,
) {
  // The execution state can be large; it stays out of the trace.
  return middy((event: Input) => run(event, awsStageDeps()))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use(rolloutContext())
    .use(stageOutcome(stage))
    .use(stepFunctionsErrors(stage));
}
