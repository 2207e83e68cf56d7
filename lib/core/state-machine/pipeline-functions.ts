// The pipeline's Lambda functions, by name. The state machine names each one in a Task's Resource as the
// substitution `${<Name>FunctionArn}`; the CDK app creates one function per name (functions/<kebab-name>.ts)
// and substitutes its ARN; the local executor maps each name to the same stage function with local adapters.

export const PIPELINE_FUNCTIONS = [
  "Prepare",
  "Validate",
  "DeployCandidate",
  "CheckCandidate",
  "SmokeTest",
  "StressWorker",
  "MergeStress",
  "EvalShard",
  "MergeEval",
  "RegisterGateway",
  "RunHooks",
  "RequestApproval",
  "Shadow",
  "CanaryStep",
  "CheckCanary",
  "Promote",
  "Finalize",
  "Rollback",
  "Cleanup",
] as const;

export type PipelineFunction = (typeof PIPELINE_FUNCTIONS)[number];

/** `Prepare` → `${PrepareFunctionArn}` */
export function substitutionKey(fn: PipelineFunction): string {
  return `${fn}FunctionArn`;
}

/** `DeployCandidate` → `deploy-candidate` (the handler file under functions/). */
export function functionFileName(fn: PipelineFunction): string {
  return fn.replace(/([a-z])([A-Z])/g, "$1-$2").toLowerCase();
}

/** Functions outside the state machine that events invoke: the canary's prober (on a schedule), commands, alarms. */
export type EventFunction = "Prober" | "Command" | "AlarmRollback";

/** Every Lambda function of modelship: Start, the pipeline's, and those events invoke. */
export type ModelshipFunction = "Start" | PipelineFunction | EventFunction;
