// Turns a stage function (lib/pipeline) into a Lambda handler: the stage gets the event and the AWS stage
// dependencies — typed by the function's row of FUNCTION_PORT_USE, so a stage calling a port method the
// function's grants were not derived from does not compile; middy middlewares add what every function needs around it — Powertools logs with the
// rollout's identity, metrics per stage, tracing, and the error shapes the state machine matches on.

import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { ModelshipFunction } from "../../core/state-machine/pipeline-functions";
import type { StageDeps } from "../../pipeline/deps";
import type { FUNCTION_PORT_USE } from "../../pipeline/function-port-use";
import type { DepsUsing } from "../../pipeline/port-use";
import { logger, metrics, tracer } from "./powertools";
import { rolloutContext } from "./rollout-context";
import { awsStageDeps } from "./stage-deps";
import { stageOutcome } from "./stage-outcome";
import { stepFunctionsErrors } from "./step-functions-errors";

/** What function `Name` may call: its row of FUNCTION_PORT_USE, and the stack config. */
export type FunctionDeps<Name extends ModelshipFunction> = DepsUsing<(typeof FUNCTION_PORT_USE)[Name]> &
  Pick<StageDeps, "config">;

/** `stage` names the function in logs and metrics (`Validate`, `Start`) and its row of FUNCTION_PORT_USE. */
export function stageHandler<Name extends ModelshipFunction, Input, Output>(
  stage: Name,
  run: (input: Input, deps: FunctionDeps<Name>) => Promise<Output>,
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
